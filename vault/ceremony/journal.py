"""The engine's records in vault.store: the ceremony row, the step journal, deviations.

One small adapter so the engine reads as the ceremony it runs; every call is one transaction in
the store. Nothing secret passes through here (step results are checked to be JSON of plain
values; a ``Secret`` cannot be JSON-encoded at all).
"""

from __future__ import annotations

from typing import Any

from vault import crashpoint
from vault.ceremony import intents
from vault.ceremony.definitions import StepDef
from vault.ceremony.prompts import Deviation


def head_hex(head) -> str:
    return getattr(head, "hash_hex", None) or getattr(head, "hash", "")


def _store_head(vault):
    from vault.store.records import LedgerHead

    head = vault.ledger.head()
    return LedgerHead(head.seq, head_hex(head))


def previous_end(vault) -> dict:
    """``previous_ceremony`` and ``previous_end_head`` of the newest ceremony that ended (its end
    head: the ledger anchors chain ceremonies through it), or {} for the first ceremony."""
    ended = [c for c in vault.store.list_ceremonies(limit=50) if c.ledger_end and c.ledger_end.seq]
    if not ended:
        return {}
    last = max(ended, key=lambda c: c.ledger_end.seq)
    return {"previous_ceremony": last.id,
            "previous_end_head": {"seq": last.ledger_end.seq, "hash": last.ledger_end.hash_hex}}


def start_ceremony(vault, engine, definition_sha256: str) -> None:
    vault.store.start_ceremony(
        engine.ceremony_id, definition_name=engine.definition.name, definition_sha256=definition_sha256,
        mode=vault.mode, script_driven=engine.options.script_driven, ledger_head=_store_head(vault),
        params={"source": str(engine.definition.source), "builtin": engine.definition.builtin},
    )


def finish_ceremony(vault, ceremony_id: str, *, completed: bool, reason: str | None) -> None:
    from vault.store.records import CeremonyStatus

    status = CeremonyStatus.COMPLETED if completed else CeremonyStatus.ABORTED
    vault.store.end_ceremony(ceremony_id, status, ledger_head=_store_head(vault), abort_reason=reason)


def step_started(vault, ceremony_id: str, step: StepDef) -> int:
    vault.store.journal_step_started(ceremony_id, step.index, step.id, step.kind)
    crashpoint.reached(f"journal:{step.id}:started")
    return step.index


def step_finished(vault, ceremony_id: str, step_index: int, result: dict[str, Any] | None) -> None:
    with vault.store.atomic():
        row = vault.store.journal_step_completed(ceremony_id, step_index, _plain(result or {}))
        intents.clear(vault, ceremony_id)  # the step's work is committed: nothing in flight any more
    crashpoint.reached(f"journal:{row.step_id}:finished")


def step_failed(vault, ceremony_id: str, step_index: int, code: str) -> None:
    vault.store.journal_step_failed(ceremony_id, step_index, code)


def _plain(value: Any) -> Any:
    """Refuse anything but JSON-plain values in a journaled result (a Secret would be a bug)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"step results must be plain JSON values, not {type(value).__name__}")


def add_deviation(vault, ceremony_id: str, step_id: str, d: Deviation) -> None:
    vault.store.add_deviation(ceremony_id, step_id=step_id, expected=d.expected, happened=d.happened,
                              action=d.action, decided_by=d.decided_by)
