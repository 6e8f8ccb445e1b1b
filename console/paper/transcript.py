"""A ceremony transcript as PDF (from vault.ceremony.transcript.build): what the markdown shows,
laid out for print, with ledger heads and digests in groups of four and their PGP words."""

from __future__ import annotations

import json
from pathlib import Path

from console.paper.document import Paper, write_pdf
from console.readable import group_hex, pgp_lines


def transcript_pdf(t: dict, path: Path) -> Path:
    c = t["ceremony"]
    doc = Paper(banner=t["banner"], title=f"Transcript {c['id']}")
    doc.add_page()
    doc.heading(f"Ceremony transcript: {c['name']} ({c['id']})")
    if t.get("practice"):
        doc.para("PRACTICE: this ceremony ran on a practice home; nothing in it protects real keys.", bold=True)
    doc.para(f"Status: {c['status']}" + (f" ({c['abort_reason']})" if c.get("abort_reason") else ""), bold=True)
    doc.para(f"Started {c['started_at']}, ended {c.get('ended_at') or '-'}; mode {c['mode']}; "
             f"scripted: {'yes' if c.get('script_driven') else 'no'}")
    doc.para("Definition SHA-256: " + group_hex(c["definition_sha256"]), 9, mono=True)

    doc.heading("Steps", 12)
    doc.set_font(doc.body, "", 8)
    with doc.table(col_widths=(7, 28, 12, 16, 117), text_align="LEFT", line_height=4) as table:
        table.row(["#", "step", "try", "status", "result"])
        for s in t["steps"]:
            table.row([str(s["index"]), doc.t(s["id"]), str(s["attempt"]), s["status"],
                       doc.t(group_hex(s["summary"] or s["error_code"] or ""))])
    doc.ln(3)
    doc.heading("Participants", 12)
    for p in t["participants"]:
        doc.para(f"{p['name']} ({p['role']})", 9)
    doc.heading("Deviations", 12)
    for d in t["deviations"] or [None]:
        doc.para("none" if d is None else f"step {d['step']}: expected {d['expected']}; happened {d['happened']}; "
                 f"action {d['action']}; decided by {d['decided_by']} ({d['at']})", 9)
    doc.heading("Attestations", 12)
    for a in t["attestations"] or [None]:
        doc.para("none" if a is None else f"{a['participant']}: {'agree' if a['agree'] else 'DO NOT AGREE'} at "
                 f"{a['at']}; signature {a['signature_hex'][:32]}…", 9)
    doc.heading("Ledger heads", 12)
    led = t["ledger"]
    for label, what in (("start", "the head before this ceremony"),
                        ("closing", "the seal: every attestation signs it"), ("end", "after the last event")):
        h = led.get(label)
        if h:
            doc.para(f"{label} (#{h['seq']}, {what}):", 9, bold=True)
            doc.para(group_hex(h["hash"]), 9, mono=True)
            doc.para("\n".join(pgp_lines(h["hash"])), 8)
    doc.heading("Ledger events", 12)
    doc.set_font(doc.mono, "", 7)
    for e in led["events"]:
        detail = json.loads(e["details"]) if e.get("details") else {}
        what = ", ".join(f"{k}={v}" for k, v in list(detail.items())[:4] if not isinstance(v, (dict, list)))
        doc.multi_cell(0, 3.5, doc.t(f"{e['seq']:>6} {e['at']} {e['actor']:<8} {e['action']:<22} "
                                     f"{e['hash'][:16]}  {what[:90]}"), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    doc.rule_line("Administrator:")
    doc.rule_line("Witness:")
    return write_pdf(doc, path)
