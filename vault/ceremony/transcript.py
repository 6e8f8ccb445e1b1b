"""Ceremony transcripts: what happened, who attested, and the ledger events, verifiable offline.

``build(vault, ceremony_id) -> dict`` gathers the ceremony (what its ledger events say: name,
mode, start, end, status), the step journal (every attempt), participants with their public
keys, attestations (statement + signature), deviations, and every ledger event from the
ceremony's start head to its end head (hashes in hex and PGP words). ``render_markdown`` prints
it for the binder; ``to_json`` is the file auditors verify with ``verify(transcript,
pinned_keys=None)``, which needs nothing but this module and the file.

How every field is bound, so that changing any of them fails verification:

* the ledger events: each hash is recomputed and the chain checked from the start head to the
  end head;
* ``ceremony.closing`` (written by the attest step before anyone signs) carries
  ``journal_sha256``: a digest of the ceremony's identity, every step attempt before the attest
  step, their deviations and the participants with their public keys. Every attestation signs
  the closing head, so these fields are bound by the participants' signatures;
* the final event (``ceremony.completed`` / ``ceremony.aborted``) carries ``transcript_sha256``:
  the same digest over everything (all steps, deviations, participants, attestations); the
  status, start and end times and the abort reason are read from the ledger events themselves;
* each attestation: its statement names this ceremony, the closing head and the decision, its
  time is the statement's, its Ed25519 signature verifies under the participant's key (embedded;
  with a file of pinned keys, the embedded key must equal the pinned one), and the ledger has
  the matching ``ceremony.attested`` event;
* PGP words are recomputed from the hex; unknown or missing keys are refused.

What signatures do not cover is the tail after the closing head (the attest step's own journal
row, the attestation events, the end): a forger who recomputes the unkeyed hashes could rewrite
it. Compare the end head with the live ledger (``custodian ledger verify`` prints it) or with a
later ceremony's transcript to close that gap.

No secret is ever part of a transcript: it is built only from stored, non-secret records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vault.errors import SignatureInvalid, VaultError
from vault.inputs import PINNED_KEYS_BYTES, TRANSCRIPT_BYTES, read_bounded
from vault.pgpwords import words_for

FORMAT = "custodian-transcript/v2"
_TOP = {"format", "banner", "practice", "ceremony", "steps", "participants", "attestations", "deviations", "ledger"}
_CEREMONY = {"id", "name", "definition_sha256", "mode", "status", "started_at", "ended_at", "abort_reason",
             "script_driven"}
_STEP = {"index", "id", "kind", "attempt", "status", "started_at", "ended_at", "error_code", "summary"}
_PARTICIPANT = {"name", "role", "public_key_pem"}
_ATTESTATION = {"participant", "agree", "at", "statement", "signature_hex"}
_DEVIATION = {"step", "expected", "happened", "action", "decided_by", "at"}
_EVENT = {"seq", "at", "actor", "ceremony_id", "action", "details", "prev_hash", "hash"}
_FINAL = {"ceremony.completed", "ceremony.aborted"}


def _words(hex_: str | None) -> str | None:
    return " ".join(words_for(bytes.fromhex(hex_))) if hex_ else None


def _head(seq: int | None, hash_hex: str | None) -> dict | None:
    if seq is None or hash_hex is None:
        return None
    return {"seq": seq, "hash": hash_hex, "words": _words(hash_hex)}


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def _statement_fields(statement: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in statement.splitlines()[1:] if ": " in line)


# --- the records a transcript is made of ---------------------------------------------------------------
def _identity(c) -> dict:
    return {"id": c.id, "name": c.definition_name, "definition_sha256": c.definition_sha256, "mode": c.mode.value,
            "script_driven": c.script_driven}


def _steps(store, ceremony_id: str) -> list[dict]:
    return [{"index": s.step_index, "id": s.step_id, "kind": s.kind, "attempt": s.attempt, "status": s.status.value,
             "started_at": s.started_at, "ended_at": s.ended_at, "error_code": s.error_code,
             "summary": (s.result or {}).get("summary") if isinstance(s.result, dict) else None}
            for s in store.steps_of(ceremony_id)]


def _deviations(store, ceremony_id: str) -> list[dict]:
    return [{"step": d.step_id, "expected": d.expected, "happened": d.happened, "action": d.action,
             "decided_by": d.decided_by, "at": d.at} for d in store.deviations_of(ceremony_id)]


def _participants(store, names: list[str]) -> list[dict]:
    out = []
    for n in names:
        r = store.get_custodian(n)
        out.append({"name": r.name, "role": r.role.value, "public_key_pem": r.public_key_pem})
    return out


def _attestations(store, ceremony_id: str) -> list[dict]:
    return [{"participant": a.custodian_name, "agree": a.agree, "at": _statement_fields(a.statement).get("time", a.at),
             "statement": a.statement, "signature_hex": a.signature_hex} for a in store.attestations_of(ceremony_id)]


def _closing_part(identity: dict, steps: list[dict], deviations: list[dict], participants: list[dict],
                  attest_step: int) -> dict:
    before = [s for s in steps if s["index"] < attest_step]
    ids = {s["id"] for s in before}
    return {"ceremony": identity, "steps": before, "deviations": [d for d in deviations if d["step"] in ids],
            "participants": participants}


def _whole(identity: dict, steps, deviations, participants, attestations) -> dict:
    return {"ceremony": identity, "steps": steps, "deviations": deviations, "participants": participants,
            "attestations": attestations}


def closing_digest(vault, ceremony_id: str, attest_step: int, participant_names: list[str]) -> str:
    """``journal_sha256`` of ``ceremony.closing`` (the attest step writes it before anyone signs)."""
    store = vault.store
    c = store.get_ceremony(ceremony_id)
    return _digest(_closing_part(_identity(c), _steps(store, ceremony_id), _deviations(store, ceremony_id),
                                 _participants(store, participant_names), attest_step))


def _names(store, ceremony_id: str, events: list[dict]) -> list[str]:
    names: list[str] = []
    for e in events:
        if e["ceremony_id"] == ceremony_id and e["action"] == "ceremony.closing":
            names += [n for n in json.loads(e["details"]).get("participants", []) if n not in names]
    for a in store.attestations_of(ceremony_id):
        if a.custodian_name not in names:
            names.append(a.custodian_name)
    return names


def final_digest(vault, ceremony_id: str) -> str:
    """``transcript_sha256`` of the final ledger event (the engine writes it as the ceremony ends)."""
    store = vault.store
    c = store.get_ceremony(ceremony_id)
    events = [{"ceremony_id": e.ceremony_id, "action": e.action, "details": e.details_json}
              for e in vault.ledger.events_of(ceremony_id)]
    return _digest(_whole(_identity(c), _steps(store, ceremony_id), _deviations(store, ceremony_id),
                          _participants(store, _names(store, ceremony_id, events)), _attestations(store, ceremony_id)))


def completion_outcome(dissent: bool) -> str:
    """What a completed ceremony's outcome reads: a dissent is never hidden behind "completed"."""
    return "completed with dissent" if dissent else "completed"


def build(vault, ceremony_id: str) -> dict[str, Any]:
    store = vault.store
    c = store.get_ceremony(ceremony_id)
    start = c.ledger_start.seq if c.ledger_start and c.ledger_start.seq is not None else 0
    end = c.ledger_end.seq if c.ledger_end and c.ledger_end.seq is not None else vault.ledger.head().seq
    events = []
    for e in vault.ledger.events(start + 1):
        if e.seq > end:
            break
        events.append({"seq": e.seq, "at": e.at, "actor": e.actor, "ceremony_id": e.ceremony_id, "action": e.action,
                       "details": e.details_json, "prev_hash": e.prev_hash, "hash": e.hash})
    mine = [e for e in events if e["ceremony_id"] == ceremony_id]
    started = next((e for e in mine if e["action"] == "ceremony.started"), None)
    final = next((e for e in reversed(mine) if e["action"] in _FINAL), None)
    closing = _last_closing(mine)
    practice = c.mode.value == "practice"
    return {
        "format": FORMAT,
        "banner": "PRACTICE" if practice else "PRODUCTION",
        "practice": practice,
        "ceremony": {**_identity(c), "status": c.status.value,
                     "started_at": started["at"] if started else c.started_at,
                     "ended_at": final["at"] if final else c.ended_at, "abort_reason": c.abort_reason},
        "steps": _steps(store, ceremony_id),
        "participants": _participants(store, _names(store, ceremony_id, events)),
        "attestations": _attestations(store, ceremony_id),
        "deviations": _deviations(store, ceremony_id),
        "ledger": {"start": _head(c.ledger_start.seq, c.ledger_start.hash_hex) if c.ledger_start else None,
                   "end": _head(end, events[-1]["hash"]) if events else None,
                   "closing": _head(closing["seq"], closing["hash"]) if closing else None,
                   "events": events},
    }


def _last_closing(mine: list[dict]) -> dict | None:
    """The ceremony's closing head: its LAST ``ceremony.closing``. A ceremony resumed at its attest
    step writes a new closing (the ledger moved on), and that round's attestations sign it; the
    first round's heads stay in the ledger, each named by its own ``ceremony.attested`` events."""
    return next((e for e in reversed(mine) if e["action"] == "ceremony.closing"), None)


def to_json(transcript: dict) -> str:
    return json.dumps(transcript, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_markdown(t: dict) -> str:
    c = t["ceremony"]
    out = [f"# {t['banner']} — ceremony transcript: {c['name']} ({c['id']})", ""]
    if t["practice"]:
        out += ["**PRACTICE** — this ceremony ran on a practice home; nothing in it protects real keys.", ""]
    status = c["status"]
    if status == "completed":
        status = completion_outcome(any(not a["agree"] for a in t["attestations"]))
        if t["deviations"]:
            status += f", {len(t['deviations'])} deviation{'s' if len(t['deviations']) != 1 else ''} recorded"
    out += [f"- Status: **{status}**" + (f" — {c['abort_reason']}" if c["abort_reason"] else ""),
            f"- Started: {c['started_at']}  Ended: {c['ended_at'] or '-'}",
            f"- Mode: {c['mode']}; scripted: {'yes' if c['script_driven'] else 'no'}",
            f"- Definition SHA-256: `{c['definition_sha256']}`  \n  {_words(c['definition_sha256'])}"]
    started = next((json.loads(e["details"]) for e in t["ledger"]["events"]
                    if e["ceremony_id"] == c["id"] and e["action"] == "ceremony.started"), {})
    if started.get("package_sha256"):
        out.append(f"- Console {started.get('console_version')}, installed files SHA-256 "
                   f"`{started['package_sha256']}`  \n  {_words(started['package_sha256'])}")
    if started.get("previous_end_head"):
        h = started["previous_end_head"]
        out.append(f"- Follows {started.get('previous_ceremony')}, whose end head was event {h['seq']} `{h['hash']}`")
    out.append("")
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
    destruction = [e for e in t["ledger"]["events"] if e["action"] == "key.destroyed"]
    if destruction:
        out += ["", "## Destruction record", ""]
        for e in destruction:
            d = json.loads(e["details"])
            out.append(f"- {e['at']}: {d['label']} ({d['algorithm']}, {d['fingerprint']}) {d['from_state']} → "
                       f"{d['to_state']} on token {d['token_serial']}; confirmed gone; tombstone kept.")
            holding = d.get("backups_holding") or []
            out.append("  Backups still holding it (destroy these copies too): "
                       + ("; ".join(f"{b['path']} (sha256 {b['sha256'][:16]}…)" for b in holding) if holding else "none"))
    led = t["ledger"]
    out += ["", "## Ledger heads", ""]
    for label in ("start", "closing", "end"):
        h = led.get(label)
        if h:
            out.append(f"- {label}: seq {h['seq']} `{h['hash']}`  \n  {h['words']}")
    out += ["", "## Attestations", ""]
    comments = {}
    for e in led["events"]:
        if e["action"] == "ceremony.attested" and e["ceremony_id"] == c["id"]:
            d = json.loads(e["details"])
            comments[d.get("participant")] = d.get("comment") or ""
    for a in t["attestations"]:
        comment = comments.get(a["participant"], "")
        out.append(f"- {a['participant']}: **{'agree' if a['agree'] else 'DO NOT AGREE'}** at {a['at']}"
                   + (f" — \"{comment}\"" if comment else "") + f"; signature `{a['signature_hex'][:32]}…`")
    if t["attestations"]:
        out += ["", "What the first attester signed (each statement also names its signer, decision, time and "
                "the dissents before it):", "", "```", t["attestations"][0]["statement"].rstrip("\n"), "```"]
    out += ["", "## Ledger events", ""]
    out += [f"- {e['seq']} {e['at']} {e['actor']} {e['action']} `{e['hash'][:16]}…`" for e in led["events"]]
    out += ["", "Signatures: ______________________ (administrator)   ______________________ (witness)", ""]
    return "\n".join(out)


# --- verification ---------------------------------------------------------------------------------------
@dataclass
class VerifyReport:
    ok: bool
    checked_events: int = 0
    checked_attestations: int = 0
    problems: list[str] = field(default_factory=list)


def load_pinned_keys(path: Path) -> dict[str, str]:
    """A pinned-keys file: JSON ``{"name": "-----BEGIN PUBLIC KEY-----..."}``; ``PinnedKeysInvalid``
    names what is wrong (missing, not JSON, not an object, a value that is not a PEM public key)."""
    from cryptography.hazmat.primitives import serialization

    from vault.errors import PinnedKeysInvalid

    path = Path(path)
    try:
        data = json.loads(read_bounded(path, PINNED_KEYS_BYTES).decode("utf-8"))
    except OSError as exc:
        raise PinnedKeysInvalid(f"The pinned keys file {path} cannot be read ({exc.strerror or exc}).") from None
    except UnicodeDecodeError as exc:
        raise PinnedKeysInvalid(f"The pinned keys file {path} is not UTF-8 text (byte {exc.start}).") from None
    except ValueError as exc:
        raise PinnedKeysInvalid(f"The pinned keys file {path} is not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise PinnedKeysInvalid(f"The pinned keys file {path} holds a JSON {type(data).__name__}, not an object "
                                "of participant name -> public key PEM.")
    for name, pem in data.items():
        if not isinstance(pem, str):
            raise PinnedKeysInvalid(f"The pinned keys file {path}: the key of {name!r} is a JSON "
                                    f"{type(pem).__name__}, not a PEM string.")
        try:
            serialization.load_pem_public_key(pem.encode("utf-8"))
        except ValueError:
            raise PinnedKeysInvalid(f"The pinned keys file {path}: the key of {name!r} is not a PEM public key.") from None
    return data


def load_file(path: Path) -> dict:
    """A transcript file as JSON (``TranscriptUnreadable`` when it cannot be read or parsed)."""
    from vault.errors import TranscriptUnreadable

    path = Path(path)
    try:
        data = json.loads(read_bounded(path, TRANSCRIPT_BYTES).decode("utf-8"))
    except OSError as exc:
        raise TranscriptUnreadable(f"The transcript {path} cannot be read ({exc.strerror or exc}).") from None
    except ValueError as exc:  # UnicodeDecodeError too
        raise TranscriptUnreadable(f"{path} is not a JSON transcript ({type(exc).__name__}).") from None
    return data


def _shape(t: dict, problems: list[str]) -> bool:
    def keys(obj: Any, expected: set[str], where: str) -> bool:
        if not isinstance(obj, dict) or set(obj) != expected:
            got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            problems.append(f"{where}: fields {got} are not the transcript's ({sorted(expected)})")
            return False
        return True

    ok = keys(t, _TOP, "transcript") and keys(t["ceremony"], _CEREMONY, "ceremony")
    if not ok:
        return False
    for name, expected in (("steps", _STEP), ("participants", _PARTICIPANT), ("attestations", _ATTESTATION),
                           ("deviations", _DEVIATION)):
        items = t[name]
        if not isinstance(items, list):
            problems.append(f"{name}: not a list")
            return False
        ok = all(keys(item, expected, f"{name}[{i}]") for i, item in enumerate(items)) and ok
    led = t["ledger"]
    if not keys(led, {"start", "end", "closing", "events"}, "ledger"):
        return False
    return all(keys(e, _EVENT, f"ledger event #{i}") for i, e in enumerate(led["events"])) and ok


def verify(t: dict, pinned: dict[str, str] | None = None) -> VerifyReport:
    """Check a transcript offline (module doc). Never raises on a malformed file: it is a problem."""
    try:
        return _verify(t, pinned)
    except (TypeError, KeyError, AttributeError, ValueError, IndexError) as exc:
        return VerifyReport(ok=False, problems=[f"the transcript is malformed ({type(exc).__name__})"])


def _verify(t: dict, pinned: dict[str, str] | None) -> VerifyReport:
    from vault.ceremony.statement import signed_lines, statement_lines
    from vault.identity import ATTESTATION_HEADER_V2, verify_attestation
    from vault.ledger import event_hash

    rep = VerifyReport(ok=False)
    problems = rep.problems

    def details(e: dict) -> dict:
        try:
            value = json.loads(e["details"])
        except (TypeError, ValueError):
            problems.append(f"ledger event {e.get('seq')}: its details are not JSON")
            return {}
        return value if isinstance(value, dict) else {}
    if not isinstance(t, dict) or t.get("format") != FORMAT:
        problems.append(f"not a {FORMAT} transcript")
        return rep
    if not _shape(t, problems):
        return rep
    c, led = t["ceremony"], t["ledger"]
    events = led["events"]
    if t["practice"] != (c["mode"] == "practice") or t["banner"] != ("PRACTICE" if t["practice"] else "PRODUCTION"):
        problems.append("the PRACTICE/PRODUCTION banner does not match the ceremony's mode")

    # 1. the hash chain, start to end
    prev = led["start"]["hash"] if led["start"] else None
    for e in events:
        if event_hash(e["seq"], e["at"], e["actor"], e["ceremony_id"], e["action"], e["details"], e["prev_hash"]) != e["hash"]:
            problems.append(f"ledger event {e['seq']}: hash does not match its content")
        if prev is not None and e["prev_hash"] != prev:
            problems.append(f"ledger event {e['seq']}: does not follow the previous event")
        prev = e["hash"]
        rep.checked_events += 1
    for label in ("start", "end", "closing"):
        h = led[label]
        if h is not None and (not isinstance(h, dict) or h.get("words") != _words(h.get("hash"))):
            problems.append(f"ledger {label} head: its PGP words do not match its hash")
    if not events or led["end"] is None or (events[-1]["hash"], events[-1]["seq"]) != (led["end"]["hash"], led["end"]["seq"]):
        problems.append("the last ledger event is not the recorded end head")
    if led["start"] is not None and events and events[0]["seq"] != led["start"]["seq"] + 1:
        problems.append("the first ledger event does not follow the start head")

    # 2. the ceremony as its own events tell it
    mine = [e for e in events if e["ceremony_id"] == c["id"]]
    started = next((e for e in mine if e["action"] == "ceremony.started"), None)
    final = next((e for e in reversed(mine) if e["action"] in _FINAL), None)
    if started is None:
        problems.append("the ceremony.started event is missing")
    else:
        d = details(started)
        if (d.get("name"), d.get("mode"), d.get("definition_sha256"), d.get("script_driven"), started["at"]) != (
                c["name"], c["mode"], c["definition_sha256"], c["script_driven"], c["started_at"]):
            problems.append("the ceremony's name, mode, definition, scripting or start differ from its ledger events")
    if final is None:
        if c["status"] != "running":
            problems.append(f"status {c['status']!r} but the ledger has no end event")
    else:
        d = details(final)
        status = "completed" if final["action"] == "ceremony.completed" else "aborted"
        reason = None if status == "completed" else f"{d.get('code')}: {d.get('reason')}"
        if (c["status"], c["ended_at"], c["abort_reason"]) != (status, final["at"], reason):
            problems.append("the ceremony's status, end or abort reason differ from its final ledger event")
        dissent = [a["participant"] for a in t["attestations"] if not a["agree"]]
        if status == "completed" and "outcome" in d and (d.get("outcome"), d.get("dissents"), d.get("deviations")) != (
                completion_outcome(bool(dissent)), dissent, len(t["deviations"])):
            problems.append("the outcome the final ledger event recorded (dissents, deviations) differs from the "
                            "attestations and deviations")
        if d.get("transcript_sha256") != _digest(_whole(_identity_of(c), t["steps"], t["deviations"],
                                                         t["participants"], t["attestations"])):
            problems.append("steps, deviations, participants or attestations differ from what the final ledger "
                            "event recorded")

    # 3. what the participants signed: the closing head, which carries the journal up to the attest step
    closing = _last_closing(mine)
    closing_hash = closing["hash"] if closing else None
    if (led["closing"] or {}).get("hash") != closing_hash or (closing and led["closing"]["seq"] != closing["seq"]):
        problems.append("the closing head is not the ceremony.closing event")
    if closing is not None:
        d = details(closing)
        signed_for = t["participants"][: len(d.get("participants", []))]
        part = _closing_part(_identity_of(c), t["steps"], t["deviations"], signed_for, d.get("attest_step", 0))
        names = [p["name"] for p in signed_for]
        if d.get("journal_sha256") != _digest(part) or names != d.get("participants"):
            problems.append("the steps, deviations or participants before the closing differ from what was signed")
    elif t["attestations"]:
        problems.append("attestations without a ceremony.closing event")

    # 4. the attestations: each signs a closing head of this ceremony (a resume at the attest step
    # writes a new closing: the interrupted round's signatures stay valid over their own head), and
    # the completing round signs the last one, every participant it names
    round_heads = {e["hash"] for e in mine if e["action"] == "ceremony.closing"}
    keys = {p["name"]: p["public_key_pem"] for p in t["participants"]}
    attested = [details(e) for e in mine if e["action"] == "ceremony.attested"]
    if [(a["participant"], a["agree"]) for a in t["attestations"]] != [(x.get("participant"), x.get("agree"))
                                                                        for x in attested]:
        problems.append("the attestations differ from the ceremony.attested ledger events")
    for a in t["attestations"]:
        name = a["participant"]
        pem = keys.get(name)
        if pem is None:
            problems.append(f"attestation of {name}: no public key in the transcript")
            continue
        if pinned is not None:
            if name not in pinned:
                problems.append(f"attestation of {name}: no pinned public key")
                continue
            pinned_der = _spki_der(pinned[name])  # the key, not its PEM line wrapping
            if pinned_der is None or pinned_der != _spki_der(pem):
                problems.append(f"attestation of {name}: embedded key differs from the pinned key")
                continue
        statement = a["statement"]
        fields = _statement_fields(statement)
        if fields.get("ceremony-id") != c["id"] or fields.get("ceremony-name") != c["name"]:
            problems.append(f"attestation of {name}: signed for another ceremony")
        if fields.get("custodian") != name:
            problems.append(f"attestation of {name}: signed by someone else")
        if closing_hash is None or fields.get("ledger-head") not in round_heads:
            problems.append(f"attestation of {name}: does not sign a closing ledger head of this ceremony")
        if fields.get("decision") != ("agree" if a["agree"] else "do-not-agree"):
            problems.append(f"attestation of {name}: decision differs from the signed statement")
        if fields.get("time") != a["at"]:
            problems.append(f"attestation of {name}: time differs from the signed statement")
        if statement.startswith(ATTESTATION_HEADER_V2 + "\n"):
            said = statement_lines(((e["action"], details(e)) for e in mine), participant=name)
            if signed_lines(statement) != said:
                problems.append(f"attestation of {name}: what the statement says changed (keys, bundles, share "
                                "sets, deviations, dissents) differs from the ledger events it signs over")
        try:
            verify_attestation(pem, statement.encode("utf-8"), bytes.fromhex(a["signature_hex"]))
        except (SignatureInvalid, ValueError):
            problems.append(f"attestation of {name}: signature does not verify")
        rep.checked_attestations += 1
    if closing is not None and c["status"] == "completed":
        signed_last = {a["participant"] for a in t["attestations"]
                       if _statement_fields(a["statement"]).get("ledger-head") == closing_hash}
        missing = [n for n in details(closing).get("participants", []) if n not in signed_last]
        if missing:
            problems.append(f"the closing head (seq {closing['seq']}) lacks the attestation of {', '.join(missing)}")
    rep.ok = not problems
    return rep


def _spki_der(pem: str) -> bytes | None:
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except ValueError:
        return None
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _identity_of(c: dict) -> dict:
    return {k: c[k] for k in ("id", "name", "definition_sha256", "mode", "script_driven")}


def verify_file(path: Path, pinned_path: Path | None = None) -> VerifyReport:
    pinned = load_pinned_keys(pinned_path) if pinned_path else None
    return verify(load_file(path), pinned)
