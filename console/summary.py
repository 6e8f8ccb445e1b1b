"""The end-of-ceremony summary: what changed, keys and fingerprints, bundles and their SHA-256,
deviations and dissents, and the one seal to read aloud.

Built on the owner thread from the ceremony's transcript (vault.ceremony.transcript.build: the
journal, the attestations and the ledger events), so it says exactly what was recorded.

The seal is the ledger head of ``ceremony.closing``: the head every attestation signs and the
one read aloud. The ledger's final head (after the attestations and the completion event, which
chain to the seal) is shown too, marked as not to be read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from console.readable import group_hex, pgp_lines

_KEY_EVENTS = {"key.generated": "generated", "key.rotated": "rotated", "key.destroyed": "destroyed",
               "key.compromised": "marked compromised", "payload.signed": "signed with"}
_BUNDLE_EVENTS = {"backup.written": "written", "backup.rebackup": "written (new quorum)",
                  "backup.restored": "restored from", "drill.passed": "drilled", "drill.failed": "drill FAILED"}


@dataclass(frozen=True, slots=True)
class SummaryView:
    ceremony_id: str
    name: str
    status: str  # completed | aborted | running
    outcome: str  # "completed", "completed with dissent", "aborted: reason"
    changes: tuple[str, ...]  # one line per step: its result
    keys: tuple[str, ...]  # "generated signer-2026 sha256:…"
    bundles: tuple[str, ...]  # "written /media/… sha256 …"
    deviations: tuple[str, ...]
    dissents: tuple[str, ...]
    seal_seq: int | None
    seal_hex: str
    end_seq: int | None
    end_hex: str

    def seal_hex_lines(self) -> list[str]:
        """The seal's hex in groups of four, eight groups a line (never wrapped by the terminal)."""
        groups = group_hex(self.seal_hex).split()
        return [" ".join(groups[i:i + 8]) for i in range(0, len(groups), 8)]

    def seal_lines(self) -> list[str]:
        # six words a line: the longest PGP words still fit 80 columns without wrapping mid-line
        return pgp_lines(self.seal_hex, per_line=6) if self.seal_hex else []

    def text(self) -> str:
        """The summary as plain lines (the TUI's panel and the tests read the same text)."""
        out = [f"{'✓' if self.status == 'completed' and not self.dissents else '✗' if self.status != 'completed' else '⚠'} "
               f"{self.name} {self.ceremony_id}: {self.outcome}", ""]
        if self.seal_hex:
            out += [f"SEAL to read aloud: ledger head #{self.seal_seq}, the head the attestations signed",
                    *("  " + line for line in self.seal_hex_lines()), *("  " + line for line in self.seal_lines()), ""]
        sections = (("What changed", self.changes), ("Keys", self.keys), ("Bundles", self.bundles),
                    ("Deviations", self.deviations or ("none",)), ("Dissents", self.dissents or ("none",)))
        for title, lines in sections:
            if lines:
                out += [f"{title}:", *(f"  {group_hex(line)}" for line in lines), ""]
        if self.end_hex and self.seal_hex:
            out.append(f"Final ledger head #{self.end_seq} (after the attestations; chained to the seal, not read "
                       f"aloud): {group_hex(self.end_hex)[:39]}…")
        elif self.end_hex:  # ended before its attestations (an abort): there is no seal to chain to
            out.append(f"Final ledger head #{self.end_seq} (no attestations were made, so no seal): "
                       f"{group_hex(self.end_hex)[:39]}…")
        return "\n".join(out)


def _detail(e: dict) -> dict:
    try:
        return json.loads(e["details"]) if e.get("details") else {}
    except ValueError:
        return {}


def ceremony_summary(vault, ceremony_id: str) -> SummaryView:
    from vault.ceremony.transcript import build

    t = build(vault, ceremony_id)
    c = t["ceremony"]
    mine = [e for e in t["ledger"]["events"] if e["ceremony_id"] == ceremony_id]
    keys, bundles, comments = [], [], {}
    for e in mine:
        d = _detail(e)
        if e["action"] in _KEY_EVENTS:
            what = _KEY_EVENTS[e["action"]]
            if e["action"] == "key.rotated":
                new, old = d.get("new", {}), d.get("previous", {})
                keys.append(f"{old.get('label')} → {new.get('label')} {new.get('fingerprint', '')}")
            else:
                keys.append(f"{what} {d.get('label')} {d.get('fingerprint', '')}".rstrip())
        elif e["action"] in _BUNDLE_EVENTS:
            extra = ""
            if e["action"].startswith("drill") and d.get("covers_current_keys") is False:
                extra = f" (STALE: lacks {d.get('current_keys_missing_count')} current key(s))"
            bundles.append(f"{_BUNDLE_EVENTS[e['action']]} {d.get('path')} sha256 {d.get('sha256', '')}{extra}")
        elif e["action"] == "ceremony.attested" and d.get("comment"):
            comments[d.get("participant")] = d["comment"]
    dissents = tuple(f"{a['participant']} does NOT agree" + (f": {comments[a['participant']]}"
                                                              if a["participant"] in comments else "")
                     for a in t["attestations"] if not a["agree"])
    deviations = tuple(f"step {d['step']}: expected {d['expected']}; happened {d['happened']}; action {d['action']}; "
                       f"decided by {d['decided_by']}" for d in t["deviations"])
    changes = tuple(f"{s['index']}. {s['id']}: {s['summary'] or s['status']}" for s in t["steps"]
                    if s["status"] in ("finished", "completed", "done") or s["summary"])
    status = c["status"]
    if status == "completed":
        outcome = "completed with dissent" if dissents else "completed"
        if deviations:
            outcome += f", {len(deviations)} deviation{'s' if len(deviations) != 1 else ''} recorded"
    else:
        outcome = f"{status}" + (f": {c['abort_reason']}" if c.get("abort_reason") else "")
    closing, end = t["ledger"].get("closing"), t["ledger"].get("end")
    return SummaryView(ceremony_id, c["name"], status, outcome, changes, tuple(keys), tuple(bundles), deviations,
                       dissents, closing["seq"] if closing else None, closing["hash"] if closing else "",
                       end["seq"] if end else None, end["hash"] if end else "")
