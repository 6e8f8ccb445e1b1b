"""Ceremony transcripts: what happened, who attested, and the ledger events, verifiable offline.

``build(vault, ceremony_id) -> dict`` gathers the ceremony row, the step journal (every attempt),
participants with their public keys, attestations (statement + signature), deviations, and every
ledger event from the ceremony's start head to its end head (hashes in hex and PGP words).
``render_markdown`` prints it for the binder; ``to_json`` is the file auditors verify with
``verify(transcript, pinned_keys=None)``, which needs nothing but this module and the file:

* every ledger event's hash is recomputed and the chain links checked (start → end);
* every attestation's statement names this ceremony and the closing head, and its Ed25519
  signature verifies under the participant's public key (embedded; when a file of pinned keys
  is given, the embedded key must equal the pinned one).

No secret is ever part of a transcript: it is built only from stored, non-secret records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault.errors import SignatureInvalid, VaultError
from vault.pgpwords import words_for

FORMAT = "custodian-transcript/v1"


def _words(hex_: str | None) -> str | None:
    return " ".join(words_for(bytes.fromhex(hex_))) if hex_ else None


def _head(head) -> dict | None:
    if head is None or head.seq is None:
        return None
    return {"seq": head.seq, "hash": head.hash_hex, "words": _words(head.hash_hex)}


def build(vault, ceremony_id: str) -> dict[str, Any]:
    store = vault.store
    c = store.get_ceremony(ceremony_id)
    steps = [{"index": s.step_index, "id": s.step_id, "kind": s.kind, "attempt": s.attempt,
              "status": s.status.value, "started_at": s.started_at, "ended_at": s.ended_at,
              "error_code": s.error_code, "summary": (s.result or {}).get("summary") if isinstance(s.result, dict) else None}
             for s in store.steps_of(ceremony_id)]
    attestations = store.attestations_of(ceremony_id)
    start = c.ledger_start.seq if c.ledger_start and c.ledger_start.seq is not None else 0
    end = c.ledger_end.seq if c.ledger_end and c.ledger_end.seq is not None else vault.ledger.head().seq
    events = []
    for e in vault.ledger.events(start + 1):
        if e.seq > end:
            break
        events.append({"seq": e.seq, "at": e.at, "actor": e.actor, "ceremony_id": e.ceremony_id, "action": e.action,
                       "details": e.details_json, "prev_hash": e.prev_hash, "hash": e.hash})
    closing = next((e for e in events if e["action"] == "ceremony.closing" and e["ceremony_id"] == ceremony_id), None)
    names: list[tuple[str, str]] = []
    for e in events:
        if e["ceremony_id"] == ceremony_id and e["action"] == "ceremony.closing":
            for n in json.loads(e["details"]).get("participants", []):
                names.append(n)
    for a in attestations:
        if a.custodian_name not in names:
            names.append(a.custodian_name)
    participants = []
    for n in names:
        r = store.get_custodian(n)
        participants.append({"name": r.name, "role": r.role.value, "public_key_pem": r.public_key_pem})
    practice = c.mode.value == "practice"
    return {
        "format": FORMAT,
        "banner": "PRACTICE" if practice else "PRODUCTION",
        "practice": practice,
        "ceremony": {"id": c.id, "name": c.definition_name, "definition_sha256": c.definition_sha256,
                     "mode": c.mode.value, "status": c.status.value, "started_at": c.started_at,
                     "ended_at": c.ended_at, "abort_reason": c.abort_reason, "script_driven": c.script_driven},
        "steps": steps,
        "participants": participants,
        "attestations": [{"participant": a.custodian_name, "agree": a.agree, "at": a.at, "statement": a.statement,
                          "signature_hex": a.signature_hex} for a in attestations],
        "deviations": [{"step": d.step_id, "expected": d.expected, "happened": d.happened, "action": d.action,
                        "decided_by": d.decided_by, "at": d.at} for d in store.deviations_of(ceremony_id)],
        "ledger": {"start": _head(c.ledger_start), "end": _head(c.ledger_end),
                   "closing": {"seq": closing["seq"], "hash": closing["hash"], "words": _words(closing["hash"])}
                   if closing else None,
                   "events": events},
    }


def to_json(transcript: dict) -> str:
    return json.dumps(transcript, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(t: dict) -> str:
    c = t["ceremony"]
    out = [f"# {t['banner']} — ceremony transcript: {c['name']} ({c['id']})", ""]
    if t["practice"]:
        out += ["**PRACTICE** — this ceremony ran on a practice home; nothing in it protects real keys.", ""]
    out += [f"- Status: **{c['status']}**" + (f" — {c['abort_reason']}" if c["abort_reason"] else ""),
            f"- Started: {c['started_at']}  Ended: {c['ended_at'] or '-'}",
            f"- Mode: {c['mode']}; scripted: {'yes' if c['script_driven'] else 'no'}",
            f"- Definition SHA-256: `{c['definition_sha256']}`", ""]
    out += ["## Steps", "", "| # | step | kind | attempt | status | started | ended | result |", "|---|---|---|---|---|---|---|---|"]
    for s in t["steps"]:
        result = s["summary"] or (s["error_code"] or "")
        out.append(f"| {s['index']} | {s['id']} | {s['kind']} | {s['attempt']} | {s['status']} | {s['started_at']} | "
                   f"{s['ended_at'] or ''} | {result.replace('|', '/')} |")
    out += ["", "## Participants", ""]
    for p in t["participants"]:
        out.append(f"- {p['name']} ({p['role']})")
    out += ["", "## Deviations", ""]
    out += [f"- step {d['step']}: expected: {d['expected']}; happened: {d['happened']}; action: {d['action']}; "
            f"decided by: {d['decided_by']} ({d['at']})" for d in t["deviations"]] or ["- none"]
    destruction = [e for e in t["ledger"]["events"] if e["action"] in ("key.destroyed",)]
    if destruction:
        out += ["", "## Destruction record", ""]
        out += [f"- {e['at']}: {e['details']}" for e in destruction]
    led = t["ledger"]
    out += ["", "## Ledger heads", ""]
    for label in ("start", "closing", "end"):
        h = led.get(label)
        if h:
            out.append(f"- {label}: seq {h['seq']} `{h['hash']}`  \n  {h['words']}")
    out += ["", "## Attestations", ""]
    for a in t["attestations"]:
        out.append(f"- {a['participant']}: **{'agree' if a['agree'] else 'DO NOT AGREE'}** at {a['at']}; "
                   f"signature `{a['signature_hex'][:32]}…`")
    out += ["", "## Ledger events", ""]
    out += [f"- {e['seq']} {e['at']} {e['actor']} {e['action']} `{e['hash'][:16]}…`" for e in led["events"]]
    out += ["", "Signatures: ______________________ (administrator)   ______________________ (witness)", ""]
    return "\n".join(out)


@dataclass
class VerifyReport:
    ok: bool
    checked_events: int = 0
    checked_attestations: int = 0
    problems: list[str] = field(default_factory=list)


def load_pinned_keys(path: Path) -> dict[str, str]:
    """A pinned-keys file: JSON ``{"name": "-----BEGIN PUBLIC KEY-----..."}``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("pinned keys file must be a JSON object of name -> PEM")
    return data


def verify(t: dict, pinned: dict[str, str] | None = None) -> VerifyReport:
    from vault.identity import verify_attestation
    from vault.ledger import event_hash

    rep = VerifyReport(ok=True)
    if t.get("format") != FORMAT:
        rep.problems.append(f"not a {FORMAT} transcript")
    led = t.get("ledger", {})
    events = led.get("events", [])
    prev = led["start"]["hash"] if led.get("start") else None
    for e in events:
        h = event_hash(e["seq"], e["at"], e["actor"], e["ceremony_id"], e["action"], e["details"], e["prev_hash"])
        if h != e["hash"]:
            rep.problems.append(f"ledger event {e['seq']}: hash does not match its content")
        if prev is not None and e["prev_hash"] != prev:
            rep.problems.append(f"ledger event {e['seq']}: does not follow the previous event")
        prev = e["hash"]
        rep.checked_events += 1
    if led.get("end") and events and events[-1]["hash"] != led["end"]["hash"]:
        rep.problems.append("the last ledger event is not the recorded end head")
    closing = (led.get("closing") or {}).get("hash")
    keys = {p["name"]: p["public_key_pem"] for p in t.get("participants", [])}
    for a in t.get("attestations", []):
        name = a["participant"]
        pem = keys.get(name)
        if pem is None:
            rep.problems.append(f"attestation of {name}: no public key in the transcript")
            continue
        if pinned is not None:
            if name not in pinned:
                rep.problems.append(f"attestation of {name}: no pinned public key")
                continue
            if pinned[name].strip() != pem.strip():
                rep.problems.append(f"attestation of {name}: embedded key differs from the pinned key")
                continue
        statement = a["statement"]
        fields = dict(line.split(": ", 1) for line in statement.splitlines()[1:] if ": " in line)
        if fields.get("ceremony-id") != t["ceremony"]["id"]:
            rep.problems.append(f"attestation of {name}: signed for another ceremony")
        if closing is None or fields.get("ledger-head") != closing:
            rep.problems.append(f"attestation of {name}: does not sign the closing ledger head")
        if fields.get("decision") != ("agree" if a["agree"] else "do-not-agree"):
            rep.problems.append(f"attestation of {name}: decision differs from the signed statement")
        try:
            verify_attestation(pem, statement.encode("utf-8"), bytes.fromhex(a["signature_hex"]))
        except (SignatureInvalid, ValueError):
            rep.problems.append(f"attestation of {name}: signature does not verify")
        rep.checked_attestations += 1
    rep.ok = not rep.problems
    return rep


def verify_file(path: Path, pinned_path: Path | None = None) -> VerifyReport:
    try:
        t = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise VaultError(f"{path} is not a readable JSON transcript ({type(exc).__name__}).",
                         next_step="Export it with `custodian transcript ID --format json`.") from None
    pinned = load_pinned_keys(pinned_path) if pinned_path else None
    return verify(t, pinned)
