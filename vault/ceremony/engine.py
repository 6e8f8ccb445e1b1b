"""The ceremony engine: UI-free, synchronous, one ceremony at a time.

``engine.start()`` checks the preconditions and opens the ceremony; then ``pending()`` gives the
prompt to answer and ``submit(answer)`` takes the answer and returns the events it caused (events
also go, as they happen, to every subscriber: the drive loop passes them to the responder).

Each step is journaled through vault.store before it starts and after it ends (with its
non-secret result). A step body is a generator (see vault.ceremony.kinds); when it returns, a
step marked ``witness = true`` asks the witness to confirm or record a deviation.

Ways out, each recorded in the database, the ledger and the transcript:
* completed — every step done;
* aborted — an ``AbortAnswer(reason)`` at any prompt, or a terminal ``VaultError`` from a step
  (the error's code and message are the reason).
Either way the ceremony's secrets (quorum, partial shares, undistributed shares) are wiped.

A crash (power loss, kill -9) leaves the ceremony ``running`` with a step ``started``: see
vault.ceremony.recovery for resume and abort.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import random
import secrets as _secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from vault.ceremony import journal
from vault.ceremony.context import RunOptions, Secrets, StepContext
from vault.ceremony.definitions import CeremonyDefinition, StepDef
from vault.ceremony.events import (
    AnswerRejected,
    CeremonyAborted,
    CeremonyCompleted,
    CeremonyFailed,
    CeremonyStarted,
    DeviationRecorded,
    Event,
    QuorumWiped,
    StepFinished,
    StepStarted,
)
from vault.ceremony.kinds import registry
from vault.ceremony.prompts import (
    AbortAnswer,
    Answer,
    Prompt,
    ShareEntryPrompt,
    WitnessAnswer,
    WitnessPrompt,
    accepts,
)
from vault.errors import AnswerInvalid, CeremonyError, VaultError
from vault.pgpwords import words_for


class Status(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a run ended. ``one_line()`` is what the CLI prints on failure."""

    status: Status
    ceremony_id: str
    step_id: str | None = None
    step_index: int | None = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.COMPLETED

    def one_line(self) -> str:
        if self.ok:
            return f"ceremony {self.ceremony_id} completed"
        where = f"step {self.step_index} '{self.step_id}'" if self.step_id else "before the first step"
        return f"ceremony {self.ceremony_id} {self.status.value} at {where}: {self.code}: {self.message}".replace("\n", " ")


Hook = Callable[[str, StepDef], None]


def new_ceremony_id(name: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{name}-{now:%Y%m%d-%H%M%S}-{_secrets.token_hex(2)}"


def definition_sha256(definition: CeremonyDefinition) -> str:
    return hashlib.sha256(definition.source.read_bytes()).hexdigest()


class Engine:
    def __init__(self, vault, definition: CeremonyDefinition, *, options: RunOptions | None = None,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None,
                 hook: Hook | None = None, ceremony_id: str | None = None) -> None:
        self.vault = vault
        self.definition = definition
        self.options = options or RunOptions()
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        self.hook = hook
        self.ceremony_id = ceremony_id or new_ceremony_id(definition.name)
        self.practice = vault.home.is_practice
        self.values: dict[str, Any] = {}
        self.secrets = Secrets()
        self.status = Status.NEW
        self.outcome: Outcome | None = None
        self.facts: list[dict[str, str]] = []  # read-aloud facts, in order (transcript)
        self._subscribers: list[Callable[[Event], None]] = []
        self._collected: list[Event] = []
        self._step_pos = 0  # index into definition.steps of the current step
        self._gen = None
        self._pending: Prompt | None = None
        self._phase = "body"  # "body" | "witness"
        self._journal_id: int | None = None
        self._last_activity = clock()
        idle = self.options.idle_timeout
        self.idle_timeout = float(idle if idle is not None else vault.home.config.idle_timeout_seconds)
        self._reactivate: StepDef | None = None  # a quorum step run again to resume
        self._step_result: dict[str, Any] = {}

    # -- subscriptions and events ----------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subscribers.append(fn)

    def emit(self, event: Event) -> None:
        self._collected.append(event)
        for fn in self._subscribers:
            fn(event)

    def _drain(self) -> list[Event]:
        out, self._collected = self._collected, []
        return out

    def utc_now(self) -> str:
        return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    def record_fact(self, step_id: str, title: str, text: str) -> None:
        self.facts.append({"step": step_id, "title": title, "text": text})

    def ledger_append(self, action: str, details: dict[str, Any]):
        return self.vault.ledger.append(action, details, actor=self.values.get("administrator") or "console",
                                        ceremony_id=self.ceremony_id)

    def run_hook(self, point: str, step: StepDef) -> None:
        if self.hook is not None:
            self.hook(point, step)

    # -- public API ------------------------------------------------------------------------------
    @property
    def current_step(self) -> StepDef | None:
        if self._step_pos < len(self.definition.steps):
            return self.definition.steps[self._step_pos]
        return None

    def pending(self) -> Prompt | None:
        return self._pending

    def start(self) -> list[Event]:
        """Check preconditions, open the ceremony (database + ledger) and run to the first prompt."""
        from vault.ceremony.preconditions import check_preconditions

        if self.status is not Status.NEW:
            raise CeremonyError("This ceremony was already started.", next_step="Start a new engine.")
        self.vault.check_owner()
        check_preconditions(self.vault, self.definition)  # PreconditionFailed: nothing recorded yet
        journal.start_ceremony(self.vault, self, definition_sha256(self.definition))
        self.status = Status.RUNNING
        self.ledger_append("ceremony.started", {"name": self.definition.name, "mode": self.vault.mode.value,
                                                "practice": self.practice,
                                                "script_driven": self.options.script_driven,
                                                "definition_sha256": definition_sha256(self.definition)})
        self.emit(CeremonyStarted(ceremony_id=self.ceremony_id, name=self.definition.name,
                                  mode=self.vault.mode.value, practice=self.practice,
                                  step_count=len(self.definition.steps)))
        self._advance(None)
        return self._drain()

    def resume_at(self, step_pos: int, values: dict[str, Any]) -> list[Event]:
        """Continue a crashed ceremony at ``step_pos`` (0-based) with the journaled values (recovery)."""
        self.values.update(values)
        self.status = Status.RUNNING
        self._step_pos = step_pos
        self.ledger_append("ceremony.resumed", {"step": self.definition.steps[step_pos].id})
        self.emit(CeremonyStarted(ceremony_id=self.ceremony_id, name=self.definition.name,
                                  mode=self.vault.mode.value, practice=self.practice,
                                  step_count=len(self.definition.steps)))
        # A step needing the quorum cannot run on a resumed ceremony without one: re-activate it
        # first (activating a quorum is always safe to repeat).
        # (not journaled as a step again: the ledger records quorum.activated for it).
        kinds = registry()
        if any(kinds[s.kind].needs_quorum for s in self.definition.steps[step_pos:]):
            for pos in range(step_pos - 1, -1, -1):
                if self.definition.steps[pos].kind == "quorum":
                    self._reactivate = self.definition.steps[pos]
                    break
        self._advance(None)
        return self._drain()

    def submit(self, answer: Answer) -> list[Event]:
        if self._pending is None:
            raise CeremonyError("There is no question waiting for an answer.",
                                next_step="Call pending() before submit(); the ceremony may have ended.")
        self.vault.check_owner()
        self._last_activity = self.clock()
        prompt = self._pending
        if isinstance(answer, AbortAnswer):
            reason = (answer.reason or "").strip()
            if not reason:
                self._reprompt(AnswerInvalid("An abort needs a reason for the record.",
                                             next_step="Say why the ceremony is aborted."))
                return self._drain()
            self._abort(reason, code="ABORTED")
            return self._drain()
        if not accepts(prompt, answer):
            self._reprompt(AnswerInvalid(f"{type(answer).__name__} does not answer a {prompt.KIND} question.",
                                         next_step="Answer the question shown."))
            return self._drain()
        if self._phase == "witness":
            self._witness_answer(answer)  # type: ignore[arg-type]
        else:
            self._advance(answer)
        return self._drain()

    def tick(self, now: float | None = None) -> list[Event]:
        """Idle check: a partial quorum left unattended longer than the idle timeout is wiped."""
        now = self.clock() if now is None else now
        if (self.status is Status.RUNNING and self.secrets.collector is not None
                and now - self._last_activity >= self.idle_timeout
                and self.secrets.collector.entered):
            self.secrets.collector.reset()
            self._last_activity = now
            self.emit(QuorumWiped(ceremony_id=self.ceremony_id, reason="idle"))
            if isinstance(self._pending, ShareEntryPrompt):
                from vault.ceremony.steps.quorum import progress_view

                self._pending = dataclasses.replace(
                    self._pending, progress=progress_view(self.secrets.collector.progress()),
                    error_code="QUORUM_IDLE",
                    error_message=(f"No share was entered for {int(self.idle_timeout)} seconds, so the shares "
                                   "entered so far were wiped. Next: start again with the first custodian."))
        return self._drain()

    def abort(self, reason: str) -> list[Event]:
        self._abort(reason, code="ABORTED")
        return self._drain()

    # -- internals ---------------------------------------------------------------------------------
    def _reprompt(self, exc: VaultError) -> None:
        assert self._pending is not None
        self.emit(AnswerRejected(ceremony_id=self.ceremony_id, step_id=self._pending.step_id, code=exc.code,
                                 message=str(exc)))
        self._pending = dataclasses.replace(self._pending, error_code=exc.code, error_message=str(exc))

    def _advance(self, answer: Answer | None) -> None:
        """Feed ``answer`` to the current step and run until the next prompt or the end."""
        kinds = registry()
        while True:
            if self._gen is None and self._reactivate is not None:
                step = self._reactivate
                self.emit(StepStarted(ceremony_id=self.ceremony_id, step_index=step.index, step_id=step.id,
                                      title=step.title + " (again, to resume)", kind=step.kind))
                self._gen = kinds[step.kind].run(StepContext(self, step), dict(step.params))
                answer = None
            if self._gen is None:
                step = self.current_step
                if step is None:
                    self._complete()
                    return
                if self.options.preflight is not None and not kinds[step.kind].repeatable:
                    try:  # e.g. a script that cannot answer what follows: stop before what cannot be undone
                        self.options.preflight(step, self.values)
                    except VaultError as exc:
                        self._fail(exc)
                        return
                self._journal_id = journal.step_started(self.vault, self.ceremony_id, step)
                self.emit(StepStarted(ceremony_id=self.ceremony_id, step_index=step.index, step_id=step.id,
                                      title=step.title, kind=step.kind))
                self.run_hook("step-started", step)
                kind = kinds[step.kind]
                if kind.needs_quorum and self.secrets.quorum is None:
                    self._fail(CeremonyError(f"Step '{step.id}' needs an activated quorum and none is held.",
                                             next_step="Put a quorum step before it in the definition."))
                    return
                self._gen = kind.run(StepContext(self, step), dict(step.params))
                answer = None
            step = self._reactivate or self.current_step
            assert step is not None
            try:
                prompt = self._gen.send(answer) if answer is not None else next(self._gen)
            except StopIteration as stop:
                self._gen = None
                if self._reactivate is not None:
                    self._reactivate = None
                    self.values.update(stop.value or {})
                    self.emit(StepFinished(ceremony_id=self.ceremony_id, step_index=step.index, step_id=step.id))
                    answer = None
                    continue
                self._step_body_done(step, stop.value or {})
                if self._pending is not None:  # the witness prompt
                    return
                answer = None
                continue
            except VaultError as exc:
                self._gen = None
                self._fail(exc)
                return
            self._pending = prompt
            return

    def _step_body_done(self, step: StepDef, result: dict[str, Any]) -> None:
        self.values.update(result)
        self._step_result = result
        self.run_hook("step-body-done", step)
        if step.witness:
            self._phase = "witness"
            ctx = StepContext(self, step)
            self._pending = ctx.prompt(WitnessPrompt, "witness", witness=self.values.get("witness") or "witness",
                                       summary=result.get("summary", step.title), read_aloud="", help=(
                                           "Confirm the step went as read from the script, or record a deviation: "
                                           "what was expected, what happened, what was done, who decided."))
            return
        self._finish_step(step)

    def _witness_answer(self, answer: WitnessAnswer) -> None:
        step = self.current_step
        assert step is not None
        if answer.deviation is not None:
            d = answer.deviation
            if not all(x.strip() for x in (d.expected, d.happened, d.action, d.decided_by)):
                self._reprompt(AnswerInvalid("A deviation needs what was expected, what happened, the action "
                                             "taken and who decided.", next_step="Fill in all four."))
                return
            journal.add_deviation(self.vault, self.ceremony_id, step.id, d)
            self.ledger_append("ceremony.deviation", {"step": step.id, "expected": d.expected,
                                                      "happened": d.happened, "action": d.action,
                                                      "decided_by": d.decided_by})
            self.emit(DeviationRecorded(ceremony_id=self.ceremony_id, step_id=step.id, deviation=d))
        elif not answer.confirmed:
            self._reprompt(AnswerInvalid("The witness neither confirmed the step nor recorded a deviation.",
                                         next_step="Confirm the step, record a deviation, or abort."))
            return
        self._phase = "body"
        self._pending = None
        self._finish_step(step)
        self._advance(None)

    def _finish_step(self, step: StepDef) -> None:
        journal.step_finished(self.vault, self.ceremony_id, step.index, self._step_result)
        self._journal_id = None
        self.emit(StepFinished(ceremony_id=self.ceremony_id, step_index=step.index, step_id=step.id))
        self.run_hook("step-finished", step)
        self._pending = None
        self._step_pos += 1

    def _complete(self) -> None:
        from vault.ceremony.transcript import final_digest

        self._wipe("complete")
        self.ledger_append("ceremony.completed", {"name": self.definition.name, "steps": len(self.definition.steps),
                                                  "transcript_sha256": final_digest(self.vault, self.ceremony_id)})
        head = self.vault.ledger.head()
        journal.finish_ceremony(self.vault, self.ceremony_id, completed=True, reason=None)
        self.status = Status.COMPLETED
        self._pending = None
        self.outcome = Outcome(Status.COMPLETED, self.ceremony_id)
        hex_ = journal.head_hex(head)
        self.emit(CeremonyCompleted(ceremony_id=self.ceremony_id, ledger_head_hex=hex_,
                                    ledger_head_words=" ".join(words_for(bytes.fromhex(hex_)))))

    def _fail(self, exc: VaultError) -> None:
        step = self.current_step
        self.emit(CeremonyFailed(ceremony_id=self.ceremony_id, step_id=step.id if step else None, code=exc.code,
                                 message=str(exc)))
        self._abort(str(exc), code=exc.code)

    def _abort(self, reason: str, *, code: str) -> None:
        if self.status is not Status.RUNNING:
            return
        step = self.current_step
        if self._gen is not None:
            try:
                self._gen.close()  # runs the step's finally blocks (they wipe what they hold)
            except Exception:
                pass
            self._gen = None
        self._release_transient_token(reason)
        self._wipe("abort")
        if self._journal_id is not None and step is not None:
            journal.step_failed(self.vault, self.ceremony_id, step.index, code)
        from vault.ceremony.transcript import final_digest

        self.ledger_append("ceremony.aborted", {"name": self.definition.name, "step": step.id if step else None,
                                                "code": code, "reason": reason,
                                                "transcript_sha256": final_digest(self.vault, self.ceremony_id)})
        journal.finish_ceremony(self.vault, self.ceremony_id, completed=False, reason=f"{code}: {reason}")
        self.status = Status.ABORTED
        self._pending = None
        self.outcome = Outcome(Status.ABORTED, self.ceremony_id, step.id if step else None,
                               step.index if step else None, code, reason)
        self.emit(CeremonyAborted(ceremony_id=self.ceremony_id, step_id=step.id if step else None, reason=reason))

    def _release_transient_token(self, reason: str) -> None:
        """An init stopping before its commit leaves a token with transient PINs: while they are
        still in memory a practice token is discarded; a production one is reported (ledger)."""
        pins = self.secrets.transient_pins
        if pins is None:
            return
        self.secrets.transient_pins = None
        from vault.ceremony.events import Notice
        from vault.operations.token import abandon_transient_token

        what = abandon_transient_token(self.vault, pins, reason=f"init stopped: {reason}",
                                       ceremony_id=self.ceremony_id, actor=self.values.get("administrator") or "console")
        self.record_fact(self.current_step.id if self.current_step else "-", "Token", what)
        self.emit(Notice(ceremony_id=self.ceremony_id, message=what, level="warning"))

    def _wipe(self, reason: str) -> None:
        held = any(getattr(self.secrets, n) is not None for n in ("quorum", "collector", "new_split", "new_quorum"))
        self.secrets.wipe()
        if held:
            self.emit(QuorumWiped(ceremony_id=self.ceremony_id, reason=reason))
