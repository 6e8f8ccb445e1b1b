"""What an attestation says the ceremony changed, derived from the ledger events it signs over.

The attest step and ``transcript verify`` both call ``statement_lines``, the attest step on the
live ledger, verification on the transcript's events, so a statement that claims anything but
what the ledger recorded fails verification. docs/evidence.md states the same rules for an
outsider.

Rules (events are the ceremony's own, in ledger order):

* changes: every event before ``ceremony.closing`` whose action is not bookkeeping (``_BOOKKEEPING``)
  gives one line: its phrase (``_PHRASES``, else the action itself), then ``name value`` for each
  salient detail present (``_SALIENT``, in that order), separated by ``; ``;
* deviations: every ``ceremony.deviation`` before the closing: ``step S: expected E; happened H;
  action A; decided by D``;
* dissents: every ``ceremony.attested`` with ``agree`` false before this person's own:
  ``NAME does not agree: COMMENT`` (or without the comment when empty).

Every value is made single-line: runs of whitespace (and control characters) become one space.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

# Events that record how the ceremony ran, not what it changed (they are in the transcript).
_BOOKKEEPING = frozenset({
    "ceremony.started", "ceremony.resumed", "ceremony.closing", "ceremony.attested", "ceremony.completed",
    "ceremony.aborted", "ceremony.witnessed", "ceremony.deviation", "ceremony.undone", "environment.checked",
    "quorum.activated", "witness.authenticated", "review.confirmed", "review.withdrawn", "ledger.head_signed",
})

_PHRASES = {
    "key.generated": "key created", "key.rotated": "key rotated", "key.destroyed": "key destroyed",
    "key.compromised": "key marked compromised", "key.imported": "key imported", "key.exported": "key exported",
    "backup.written": "bundle written", "backup.restored": "bundle restored",
    "share-set.committed": "share set committed", "shares.distributed": "shares handed out",
    "shares.exported": "share files written", "custodian.enrolled": "person enrolled",
    "token.initialised": "token initialised", "token.pins_set": "token PINs set", "payload.signed": "payload signed",
    "certificate.issued": "certificate issued", "certificate.revoked": "certificate revoked",
    "crl.issued": "CRL issued", "policy.chosen": "policy chosen", "quorum.reshared": "quorum reshared",
    "ledger.audit_key_created": "ledger audit key created",
}

# Details named in a change line, in this order, when the event has them.
_SALIENT = ("name", "label", "role", "algorithm", "version", "fingerprint", "backup", "path", "sha256",
            "key_count", "serial", "subject", "crl_number", "policy", "share_set", "custodians", "count",
            "directory", "from_state", "to_state", "reason", "payload_sha256", "size")

_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class StatementLines:
    changes: tuple[str, ...]
    deviations: tuple[str, ...]
    dissents: tuple[str, ...]


def one_line(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = ", ".join(one_line(v) for v in value)
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _SPACE.sub(" ", str(value)).strip()


def change_line(action: str, details: Mapping[str, Any]) -> str:
    parts = [f"{key} {one_line(details[key])}" for key in _SALIENT if details.get(key) not in (None, "", [])]
    return _PHRASES.get(action, action) + (": " + "; ".join(parts) if parts else "")


def statement_lines(events: Iterable[tuple[str, Mapping[str, Any]]], *, participant: str) -> StatementLines:
    """``events``: the ceremony's own (action, details) pairs in ledger order, up to (excluding)
    ``participant``'s own ``ceremony.attested``."""
    changes: list[str] = []
    deviations: list[str] = []
    dissents: list[str] = []
    closed = False
    for action, d in events:
        if action == "ceremony.closing":
            closed = True
        elif action == "ceremony.attested":
            if d.get("participant") == participant:
                break
            if d.get("agree") is False:
                comment = one_line(d.get("comment") or "")
                dissents.append(f"{one_line(d.get('participant'))} does not agree" + (f": {comment}" if comment else ""))
        elif closed:
            continue
        elif action == "ceremony.deviation":
            deviations.append(f"step {one_line(d.get('step'))}: expected {one_line(d.get('expected'))}; "
                              f"happened {one_line(d.get('happened'))}; action {one_line(d.get('action'))}; "
                              f"decided by {one_line(d.get('decided_by'))}")
        elif action not in _BOOKKEEPING:
            changes.append(change_line(action, d))
    return StatementLines(tuple(changes), tuple(deviations), tuple(dissents))


def signed_lines(statement: str) -> StatementLines:
    """The change/deviation/dissent lines a v2 statement carries ("none" read as no line)."""
    found: dict[str, list[str]] = {"change": [], "deviation": [], "dissent": []}
    for line in statement.splitlines()[1:]:
        key, _, value = line.partition(": ")
        if key in found:
            found[key].append(value)
    return StatementLines(*(() if found[k] == ["none"] else tuple(found[k]) for k in ("change", "deviation", "dissent")))
