"""After a crash or power loss: find unfinished ceremonies, resume or abort them, reconcile.

At start the console calls ``startup_report(vault)``: every ceremony still ``running`` with the
step it stopped in and whether it can be resumed (only when that step's kind is safe to
repeat and no step in memory-only state, such as shares being handed out, was under way), plus
a reconcile of the token's objects against the database (orphans are reported, never deleted).

``resume(vault, ceremony_id, ...) -> Engine``: an engine positioned at the interrupted step with
the values of the completed steps restored from the journal; a quorum it needs is activated
again first (drive it as usual). ``abort_unfinished(vault, ceremony_id, reason)`` records the
abort with its reason in the database and the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vault.ceremony.definitions import find_definition
from vault.ceremony.engine import Engine, definition_sha256
from vault.ceremony.kinds import registry
from vault.errors import CeremonyError, PreconditionFailed

# Kinds whose work lives in memory until a later step commits it: a crash anywhere from them up
# to that commit cannot be resumed (the new secret is gone; its shares must not be used).
_VOLATILE_FROM = {"new-quorum", "prepare-token"}
# Not safe to repeat as they are, but their step body applies a recovery rule on resume (it reads
# the intent the crashed attempt recorded: vault.ceremony.intents, ceremonies/README.md).
RESUMABLE_BY_RULE = frozenset({"generate-key", "rotate-key", "destroy-key"})
_VOLATILE_UNTIL = {"commit-share-set", "reshare-commit"}
_TOKEN_LOST = ("the token was initialised with transient PINs held only in memory; it is empty and its PINs are "
               "lost (practice: the next init discards and re-initialises it; production: reset it with the HSM "
               "vendor's tools before the next init)")


@dataclass(frozen=True, slots=True)
class Unfinished:
    ceremony_id: str
    name: str
    started_at: str
    step_index: int | None  # 1-based step that was running (None: before the first step)
    step_id: str | None
    resumable: bool
    why_not: str | None


@dataclass(frozen=True, slots=True)
class StartupReport:
    unfinished: tuple[Unfinished, ...]
    reconcile: Any  # vault.operations.reconcile.ReconcileReport | None

    @property
    def clean(self) -> bool:
        return not self.unfinished and (self.reconcile is None or getattr(self.reconcile, "ok", True))


def _analyse(vault, record) -> tuple[Unfinished, int, dict]:
    definition = find_definition(record.definition_name, vault.home.path)
    steps = vault.store.steps_of(record.id)
    done = {s.step_index for s in steps if s.status.value == "completed"}
    values: dict[str, Any] = {}
    for s in steps:
        if s.status.value == "completed" and isinstance(s.result, dict):
            values.update(s.result)
    pos = next((i for i, s in enumerate(definition.steps) if s.index not in done), len(definition.steps))
    step = definition.steps[pos] if pos < len(definition.steps) else None
    why = None
    kinds = [s.kind for s in definition.steps[: pos + 1]]
    opened = [i for i, k in enumerate(kinds) if k in _VOLATILE_FROM]
    closed = [i for i, k in enumerate(kinds[:pos]) if k in _VOLATILE_UNTIL]
    volatile = bool(opened) and (not closed or max(closed) < max(opened))
    token_lost = volatile and "prepare-token" in kinds and _token_transient(vault)
    if definition_sha256(definition) != record.definition_sha256:
        why = "the ceremony's definition file changed since it started"
    elif step is not None and not registry()[step.kind].repeatable and step.kind not in RESUMABLE_BY_RULE:
        why = f"step '{step.id}' ({step.kind}) is not safe to repeat"
    elif volatile:
        why = "a new quorum secret was being handed out; it was only in memory"
    if why is not None and token_lost:
        why = f"{why}; {_TOKEN_LOST}"
    if why is not None and _reshare_cut(vault, record.id):
        why = f"{why}; {_reshare_cut_text(vault)}"
    u = Unfinished(record.id, record.definition_name, record.started_at, step.index if step else None,
                   step.id if step else None, why is None, why)
    return u, pos, values


_RESHARE_CUT = ("the reshare was switching the token: it may already have the new set's PINs (the next quorum "
                "activation accepts either set's shares and settles it by logging in)")
# pin_policy "hsm-procedure": the reshare never re-keys the token (vault.operations.reshare)
_RESHARE_CUT_PROCEDURE = ("the reshare was switching to the new share set; the token's PINs are its vendor's and "
                          "did not change (the next quorum activation accepts either set's shares, and the set "
                          "entered decides)")


def _reshare_cut_text(vault) -> str:
    from vault.operations.hsm_procedure import is_procedure

    return _RESHARE_CUT_PROCEDURE if is_procedure(vault) else _RESHARE_CUT


def _reshare_cut(vault, ceremony_id: str) -> bool:
    from vault.operations.reshare import interrupted

    pending = interrupted(vault)
    return pending is not None and pending.ceremony_id == ceremony_id


def _token_transient(vault) -> bool:
    from vault.operations.token import PINS_TRANSIENT, SETTING_PINS

    return vault.store.get_setting(SETTING_PINS) == PINS_TRANSIENT


def unfinished(vault) -> list[Unfinished]:
    return [_analyse(vault, r)[0] for r in vault.store.unfinished_ceremonies()]


def startup_report(vault, *, reconcile_token: bool = True) -> StartupReport:
    report = None
    if reconcile_token:
        try:
            from vault.operations.reconcile import reconcile

            report = reconcile(vault, None)
        except ImportError:
            report = None
    return StartupReport(tuple(unfinished(vault)), report)


def resume(vault, ceremony_id: str, *, options=None, hook=None, clock=None, rng=None) -> tuple[Engine, list]:
    record = vault.store.get_ceremony(ceremony_id)
    if record.status.value != "running":
        raise CeremonyError(f"Ceremony {ceremony_id} is {record.status.value}, not unfinished.",
                            next_step="Only an unfinished ceremony can be resumed.")
    u, pos, values = _analyse(vault, record)
    if not u.resumable:
        raise PreconditionFailed(f"Ceremony {ceremony_id} cannot be resumed: {u.why_not}.",
                                 next_step="Abort it with a recorded reason, then run the ceremony again.")
    definition = find_definition(record.definition_name, vault.home.path)
    kwargs = {k: v for k, v in (("clock", clock), ("rng", rng)) if v is not None}
    engine = Engine(vault, definition, options=options, hook=hook, ceremony_id=ceremony_id, **kwargs)
    events = engine.resume_at(pos, values)
    return engine, events


def abort_unfinished(vault, ceremony_id: str, reason: str) -> list[str]:
    """Abort a crashed ceremony with a recorded reason; the recovery rules undo what it wrote
    (vault.ceremony.step_recovery). Returns one line per thing undone."""
    reason = (reason or "").strip()
    if not reason:
        raise CeremonyError("Aborting an unfinished ceremony needs a reason for the record.",
                            next_step="Say why it is aborted.")
    with vault.writing("ceremony abort", ceremony_id=ceremony_id):  # never a live ceremony of another process
        return _abort_unfinished(vault, ceremony_id, reason)


def _abort_unfinished(vault, ceremony_id: str, reason: str) -> list[str]:
    record = vault.store.get_ceremony(ceremony_id)
    if record.status.value != "running":
        raise CeremonyError(f"Ceremony {ceremony_id} is {record.status.value}, not unfinished.",
                            next_step="Only an unfinished ceremony can be aborted.")
    u, _pos, _values = _analyse(vault, record)
    if u.step_index is not None:
        steps = vault.store.steps_of(ceremony_id)
        if any(s.step_index == u.step_index and s.status.value == "started" for s in steps):
            vault.store.journal_step_failed(ceremony_id, u.step_index, "INTERRUPTED")
    details = {"name": record.definition_name, "step": u.step_id, "code": "INTERRUPTED", "reason": reason,
               "after_crash": True}
    if u.why_not and _TOKEN_LOST in u.why_not:
        from vault.operations.token import orphaned_token

        info = orphaned_token(vault)
        if info is not None:
            details["token_left"] = {"label": info.label, "serial": info.serial, "state": _TOKEN_LOST}
            vault.ledger.append("token.orphaned", {"label": info.label, "serial": info.serial,
                                                   "reason": f"the init stopped by a crash: {reason}"},
                                actor="console", ceremony_id=ceremony_id)  # fmt: skip
    from vault.ceremony.step_recovery import undo_on_abort
    from vault.ceremony.transcript import final_digest

    undone = undo_on_abort(vault, ceremony_id, crashed=True)
    if undone:
        details["undone"] = undone
    details["transcript_sha256"] = final_digest(vault, ceremony_id)
    vault.ledger.append("ceremony.aborted", details, actor="console", ceremony_id=ceremony_id)
    from vault.ceremony.journal import finish_ceremony

    finish_ceremony(vault, ceremony_id, completed=False, reason=f"INTERRUPTED: {reason}")
    return undone


_ = json
