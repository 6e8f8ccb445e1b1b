"""What a step that is not safe to repeat is about to do, written down before it does it.

A step that creates or destroys something outside the database (a key on the token, a bundle
file) first records an *intent* — the ceremony, the step, and the non-secret facts a recovery
needs (the label being generated, the key being destroyed, the bundle path being written) —
and clears it once its own database transaction has committed. After a crash the intent says
exactly what the dead step was doing, so the recovery rules (vault.ceremony.step_recovery) can
tell "the HSM never did it" from "the HSM did it, the database never heard": an orphan on the
token that an intent names is the key the crashed step was making, and can be adopted; a
bundle file at an intent's path that no backup row records is the crashed step's own and is
removed.

Intents live in the settings table under ``intent.<ceremony id>`` (one per ceremony: a ceremony
runs one step at a time), as JSON of plain values, and removed when cleared. An aborted ceremony's intent is kept, marked
``abandoned``, for the reconcile ceremony; a completed step's is cleared.
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "intent."


def record(vault, ceremony_id: str, step_id: str, kind: str, **facts: Any) -> None:
    intent = {"ceremony_id": ceremony_id, "step": step_id, "kind": kind, **facts}
    vault.store.set_setting(PREFIX + ceremony_id, json.dumps(intent, sort_keys=True))


def clear(vault, ceremony_id: str) -> None:
    vault.store.delete_setting(PREFIX + ceremony_id)


def get(vault, ceremony_id: str, step_id: str | None = None) -> dict[str, Any] | None:
    """The ceremony's open intent (only if it is ``step_id``'s, when given)."""
    text = vault.store.get_setting(PREFIX + ceremony_id)
    intent = json.loads(text) if text else None
    if intent is not None and step_id is not None and intent.get("step") != step_id:
        return None
    return intent


def mark_abandoned(vault, ceremony_id: str) -> dict[str, Any] | None:
    intent = get(vault, ceremony_id)
    if intent is not None and not intent.get("abandoned"):
        intent["abandoned"] = True
        vault.store.set_setting(PREFIX + ceremony_id, json.dumps(intent, sort_keys=True))
    return intent


def all_open(vault) -> dict[str, dict[str, Any]]:
    """ceremony id -> intent, for every intent not cleared (the reconcile ceremony reads these)."""
    out = {}
    for key, value in vault.store.settings().items():
        if key.startswith(PREFIX) and value:
            out[key[len(PREFIX):]] = json.loads(value)
    return out


def labels_in_flight(vault) -> set[str]:
    """Labels that an open intent names (an orphan with one of them is explained, not foreign)."""
    labels = set()
    for intent in all_open(vault).values():
        for name in ("label", "new_label"):
            if intent.get(name):
                labels.add(intent[name])
    return labels
