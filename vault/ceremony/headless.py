"""Headless recovery: resume or abort an unfinished ceremony from the command line, and a
``ceremony run`` that refuses to start while one is unfinished unless told what to do with it.

* ``run_ceremony(vault, script, name=..., resume=False, abort_reason=None)``: what ``custodian
  ceremony run`` does. With no unfinished ceremony it runs the script's ceremony. With one it
  refuses (``CeremonyUnfinished`` naming each, where it stopped and whether it can resume)
  unless the script (``[unfinished] resume = true`` / ``abort = "reason"``) or the caller says:
  ``resume`` continues the unfinished ceremony of the same name with this script's answers;
  ``abort`` aborts every unfinished ceremony with the reason (recovery rules apply), then runs.
* ``resume_with_script(vault, ceremony_id, script)``: ``custodian ceremony resume ID --script F``.
* ``abort_with_reason(vault, ceremony_id, reason)``: ``custodian ceremony abort ID --reason TEXT``.

Every way out is in the ledger (``ceremony.resumed``, ``ceremony.aborted`` with
``after_crash: true``, and what each recovery rule undid); all of it runs under the home's
writer lock, so a live ceremony is never taken for a crashed one.
"""

from __future__ import annotations

from pathlib import Path

from vault.ceremony.recovery import Unfinished, abort_unfinished, resume, unfinished
from vault.ceremony.script import ScriptResponder, ScriptRun, load_script, run_script, script_options
from vault.errors import CeremonyUnfinished, CeremonyUnknown, PreconditionFailed, RecordNotFound


def describe(u: Unfinished) -> str:
    where = f"step {u.step_index} '{u.step_id}'" if u.step_id else "before its first step"
    how = "can be resumed" if u.resumable else f"cannot be resumed: {u.why_not}"
    return f"{u.name} {u.ceremony_id} stopped at {where} ({how})"


def _refusal(pending: list[Unfinished], script_path: Path) -> CeremonyUnfinished:
    first = pending[0]
    ways = (f"`custodian ceremony resume {first.ceremony_id} --script {script_path}`" if first.resumable else None,
            f"`custodian ceremony abort {first.ceremony_id} --reason TEXT`")
    return CeremonyUnfinished(
        f"An unfinished ceremony must be resumed or aborted first: {'; '.join(describe(u) for u in pending)}.",
        next_step=" or ".join(w for w in ways if w) + " (or add --resume / --abort-unfinished REASON, or "
                  "`[unfinished]` to the script).",
    )  # fmt: skip


def run_ceremony(vault, script_path: Path, *, name: str | None = None, resume_unfinished: bool = False,
                 abort_reason: str | None = None, **kwargs) -> ScriptRun:
    """``custodian ceremony run``: refuses while a ceremony is unfinished unless told what to do."""
    script_path = Path(script_path)
    with vault.writing("ceremony run"):  # before looking: a live ceremony elsewhere is refused here
        if name is not None:
            from vault.ceremony.definitions import find_definition

            find_definition(name, vault.home.path)  # an unknown ceremony is named before the script is read
        raw = load_script(script_path)
        resume_unfinished = resume_unfinished or raw.unfinished.get("resume") is True
        abort_reason = abort_reason or raw.unfinished.get("abort")
        if resume_unfinished and abort_reason:
            raise PreconditionFailed("Both resume and abort were asked for the unfinished ceremony.",
                                     next_step="Say one of them.")
        pending = unfinished(vault)
        if pending and resume_unfinished:
            wanted = name or raw.ceremony
            same = [u for u in pending if u.name == wanted]
            if not same:
                raise _refusal(pending, script_path)
            return resume_with_script(vault, same[0].ceremony_id, script_path, **kwargs)
        if pending and abort_reason:
            for u in pending:
                abort_with_reason(vault, u.ceremony_id, abort_reason)
        elif pending:
            raise _refusal(pending, script_path)
        return run_script(vault, script_path, name=name, **kwargs)


def resume_with_script(vault, ceremony_id: str, script_path: Path, *, allow_production_share_export: bool = False,
                       on_event=None, hook=None, clock=None, rng=None, **option_overrides) -> ScriptRun:
    """Continue ``ceremony_id`` where it stopped, answering from the script (its ceremony must match)."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.runner import drive

    record = _known(vault, ceremony_id)
    definition = find_definition(record.definition_name, vault.home.path)
    script = load_script(Path(script_path), definition)
    options = script_options(script, allow_production_share_export=allow_production_share_export, **option_overrides)
    events = []

    def collect(e) -> None:
        events.append(e)
        if on_event is not None:
            on_event(e)

    with vault.writing("ceremony resume", ceremony_id=ceremony_id):
        engine, first = resume(vault, ceremony_id, options=options, hook=hook, clock=clock, rng=rng)
        for e in first:
            collect(e)
        responder = ScriptResponder(script, on_event=collect)
        outcome = drive(engine, responder)
    return ScriptRun(outcome, responder.failure, tuple(events))


def abort_with_reason(vault, ceremony_id: str, reason: str) -> list[str]:
    """Abort an unfinished ceremony with a recorded reason; returns what the recovery rules undid."""
    _known(vault, ceremony_id)
    with vault.writing("ceremony abort", ceremony_id=ceremony_id):
        return abort_unfinished(vault, ceremony_id, reason) or []


def _known(vault, ceremony_id: str):
    try:
        return vault.store.get_ceremony(ceremony_id)
    except RecordNotFound:  # a ceremony id that names nothing: said as such, not as a database error
        raise CeremonyUnknown(f"No ceremony with id {ceremony_id!r}.",
                             next_step="`custodian ceremony unfinished` lists the unfinished ceremonies and their ids.") from None
