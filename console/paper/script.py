"""The ceremony script as PDF: numbered steps with what to read aloud, columns for the witness,
initials and time, the deviation log and the signature lines (as ``custodian ceremony show``)."""

from __future__ import annotations

from pathlib import Path

from console.paper.document import Paper, write_pdf


def script_pdf(definition, path: Path, *, practice: bool = True) -> Path:
    from vault.ceremony.kinds import registry

    kinds = registry()
    d = definition
    doc = Paper(banner="PRACTICE" if practice else "PRODUCTION", title=f"Ceremony script: {d.name}")
    doc.add_page()
    doc.heading(f"Ceremony script: {d.title} ({d.name})")
    doc.para(d.purpose)
    doc.para(f"Roles: {', '.join(r.value for r in d.roles)}.  Quorum: {d.quorum.value}."
             + (f"  Preconditions: {', '.join(d.preconditions)}." if d.preconditions else ""))
    for label in ("Ceremony id", "Date", "Location", "Administrator", "Witness"):
        doc.rule_line(label + ":")
    doc.ln(2)
    doc.set_font(doc.body, "", 9)
    with doc.table(col_widths=(7, 36, 84, 17, 17, 14), text_align="LEFT", line_height=5) as table:
        table.row([doc.t(h) for h in ("#", "step", "read aloud / do", "witness", "initials", "time")])
        for s in d.steps:
            doing = s.read_aloud or (kinds[s.kind].doc.splitlines()[0] if kinds[s.kind].doc else "")
            items = s.params.get("items") if s.kind == "checklist" else None
            if items:
                doing += "\n" + "\n".join(f"[  ] {i}" for i in items)
            table.row([str(s.index), doc.t(s.title), doc.t(doing), "yes" if s.witness else "", "", ""])
    doc.ln(4)
    doc.heading("Deviations (expected / happened / action / decided by)", 11)
    for _ in range(4):
        doc.rule_line("")
    doc.heading("Signatures", 11)
    for label in ("Ceremony administrator", "Witness", "Custodian", "Custodian", "Custodian"):
        doc.rule_line(label + ":")
    return write_pdf(doc, path)
