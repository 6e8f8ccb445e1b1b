"""Forge a transcript the way a careful forger would: change a field, then recompute every
unkeyed value the verifier checks, by the verifier's own rules (vault.ceremony.transcript and
vault.ledger), so that only a keyed check (a signature, a pinned key) can catch the change.

``reseal(t)`` recomputes, in place: the final event's ``transcript_sha256`` (the digest over
identity, steps, deviations, participants and attestations), every ledger event's hash from
the first changed one on, the chain's ``prev_hash`` links, and the end head with its PGP words.
Tests first show that resealing an untouched transcript verifies, so a reseal that missed a
rule (the format gained a field) fails loudly instead of hiding behind the signature check.
"""

from __future__ import annotations

import copy
import json

from vault.ceremony import transcript as T
from vault.ledger import event_hash

FINAL = ("ceremony.completed", "ceremony.aborted")


def reseal(t: dict) -> dict:
    c = t["ceremony"]
    events = t["ledger"]["events"]
    whole = T._digest(T._whole(T._identity_of(c), t["steps"], t["deviations"], t["participants"], t["attestations"]))
    for e in events:
        if e["ceremony_id"] == c["id"] and e["action"] in FINAL:
            details = json.loads(e["details"])
            details["transcript_sha256"] = whole
            e["details"] = json.dumps(details, sort_keys=True, separators=(",", ":"))
    prev = t["ledger"]["start"]["hash"] if t["ledger"]["start"] else None
    for e in events:
        if prev is not None:
            e["prev_hash"] = prev
        e["hash"] = event_hash(e["seq"], e["at"], e["actor"], e["ceremony_id"], e["action"], e["details"], e["prev_hash"])
        prev = e["hash"]
    end = t["ledger"]["end"]
    end["hash"], end["seq"] = events[-1]["hash"], events[-1]["seq"]
    end["words"] = T._words(end["hash"])
    for label in ("closing",):
        head = t["ledger"][label]
        if head is not None:
            match = next(e for e in events if e["seq"] == head["seq"])
            head["hash"], head["words"] = match["hash"], T._words(match["hash"])
    return t


def forged(t: dict, change) -> dict:
    """A deep copy of ``t`` with ``change(copy)`` applied, then resealed."""
    out = copy.deepcopy(t)
    change(out)
    return reseal(out)
