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

Going back (``BackAnswer``). Every prompt says whether the engine will take a back there
(``prompt.can_go_back``): while the current step has only asked questions — nothing in the
ledger moved except the engine's own review/witness bookkeeping, no answer held a secret, and
every answer went through ``ctx.ask`` — a back drops the step's last accepted answer, starts the
step's body again and replays the earlier answers into it (events and read-aloud facts of the
replay are not emitted again), and shows the question whose answer was dropped, with that
answer in ``prompt.previous``. A step body is therefore written so that everything before its
review only reads (the token, the database, files) and asks. A back from a review records
``review.withdrawn``. There is no back into a finished step, from the witness's sign-off, or
once a review was confirmed.

Witness evidence. The first time the witness is asked to act (a review or a step's sign-off)
the engine first asks the witness's passphrase and checks it against their enrollment
(vault.ceremony.witness), once per ceremony run, recording ``witness.authenticated``. Every
sign-off is recorded as ``ceremony.witnessed`` (who, when, confirmed or the deviation), with the
witness as the event's actor; the witness's closing attestation signs a head that chains them.
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

from vault import crashpoint
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
    ReadAloud,
    StepFinished,
    StepStarted,
)
from vault.ceremony.kinds import registry
from vault.ceremony.prompts import (
    AbortAnswer,
    Answer,
    AttestationAnswer,
    BackAnswer,
    ChoiceAnswer,
    ConfirmAnswer,
    Prompt,
    ReviewPrompt,
    SecretAnswer,
    ShareAnswer,
    ShareEntryPrompt,
    TextAnswer,
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

_SECRET_ENTERED = "a share or a passphrase was entered in this step, and a secret is wiped once used."


def new_ceremony_id(name: str, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{name}-{now:%Y%m%d-%H%M%S}-{_secrets.token_hex(2)}"


def _display(answer: Answer) -> str | None:
    """What a question was answered with, to offer it again after a back (never a secret)."""
    if isinstance(answer, TextAnswer):
        return answer.text
    if isinstance(answer, ChoiceAnswer):
        return answer.value
    if isinstance(answer, ConfirmAnswer):
        return "yes" if answer.yes else "no"
    return None


def definition_sha256(definition: CeremonyDefinition) -> str:
    return hashlib.sha256(definition.source.read_bytes()).hexdigest()


def identity_of_what_runs(definition: CeremonyDefinition) -> dict[str, str]:
    """The console's version and the SHA-256 of its installed files (vault.runtime_identity),
    recorded at every ceremony's start next to the definition's SHA-256."""
    from vault.runtime_identity import package_identity

    ident = package_identity()
    return {"console_version": ident.version, "package_sha256": ident.sha256}


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
        self.identity_facts: list[tuple[str, str]] = []  # what runs, read at the start (_read_identity)
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
        # going back (module doc): the current step's accepted answers, and whether it may rewind
        self._step_log: list[tuple[str, Answer]] = []
        self._step_seq = 0  # the ledger's head when the step started, plus the engine's own events
        self._noted = 0  # answers ctx.ask took or refused: a step answer that it did not see ends rewinding
        self._unrewindable = ""  # why this step can no longer go back ("": it can)
        self._replaying = False
        # witness evidence (module doc)
        self._auth_for: Prompt | None = None  # a witness prompt waiting behind the witness's passphrase
        self.witness_authenticated: str | None = None

    # -- subscriptions and events ----------------------------------------------------------------
    def subscribe(self, fn: Callable[[Event], None]) -> None:
        self._subscribers.append(fn)

    def emit(self, event: Event) -> None:
        if self._replaying:  # a back replays a step's answers: what it said is not said again
            return
        self._collected.append(event)
        for fn in self._subscribers:
            fn(event)

    def _drain(self) -> list[Event]:
        out, self._collected = self._collected, []
        return out

    def utc_now(self) -> str:
        return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    def record_fact(self, step_id: str, title: str, text: str) -> None:
        if self._replaying:
            return
        self.facts.append({"step": step_id, "title": title, "text": text})

    def ledger_append(self, action: str, details: dict[str, Any], *, actor: str | None = None):
        return self.vault.ledger.append(action, details, actor=actor or self.values.get("administrator") or "console",
                                        ceremony_id=self.ceremony_id)

    def _own_append(self, action: str, details: dict[str, Any], *, actor: str | None = None):
        """The engine's bookkeeping inside a step (reviews, the witness): it does not end rewinding."""
        event = self.ledger_append(action, details, actor=actor)
        self._step_seq += 1
        return event

    # -- going back and reviews (module doc) -------------------------------------------------------
    def note_answer(self, ask: str, answer: Answer, *, accepted: bool) -> None:
        """Called by ``ctx.ask`` for every answer it takes (``accepted``) or refuses."""
        self._noted += 1
        if not accepted:
            return
        if isinstance(answer, (SecretAnswer, ShareAnswer, AttestationAnswer)):
            # a secret is wiped once used: it cannot be replayed
            self._unrewindable = _SECRET_ENTERED
        self._step_log.append((ask, answer))

    def review_confirmed(self, step: StepDef, body: dict[str, Any], digest: str) -> None:
        self._unrewindable = "this step's review was confirmed: what it reviewed is being done."
        self._own_append("review.confirmed", {"step": step.id, "action": body["action"], "review": body,
                                              "review_sha256": digest,
                                              "administrator": self.values.get("administrator"),
                                              "witness": self.values.get("witness")})

    def _can_go_back(self) -> bool:
        return (self._phase == "body" and self._gen is not None and self._reactivate is None
                and not self._unrewindable and bool(self._step_log)
                and self.vault.ledger.head().seq == self._step_seq)

    def _present(self, prompt: Prompt) -> Prompt:
        """The prompt as the front end sees it: behind the witness's passphrase when the witness
        acts for the first time in this run, and with ``can_go_back`` set."""
        from vault.ceremony import witness

        if isinstance(prompt, (ReviewPrompt, WitnessPrompt)):
            name = self.values.get("witness")
            if name and self.witness_authenticated != name:
                self._auth_for = prompt
                step = self._reactivate or self.current_step
                prompt = witness.auth_prompt(StepContext(self, step), name)
        back = self._can_go_back() or (prompt.local_back and self._phase == "body")
        return dataclasses.replace(prompt, can_go_back=back, no_back="" if back else self._back_refusal())

    def _back_refusal(self) -> str:
        """Why a back is not taken here (the prompt's ``no_back``; the re-ask's message)."""
        if self._phase == "witness":
            return "the step is done; only the witness's sign-off is left."
        if self._reactivate is not None:
            return "the quorum is being activated again to resume the ceremony."
        if self._unrewindable:
            return self._unrewindable
        if self._phase == "body" and self.vault.ledger.head().seq != self._step_seq:
            return "this step has already changed the token or the ledger."
        step = self.current_step
        if step is not None and step.index > 1:
            return (f"this is the first question of step {step.index}; the steps before it are done and "
                    "recorded.")
        return "this is the ceremony's first question."

    def _witness_auth_answer(self, answer: SecretAnswer) -> None:
        from vault.ceremony import witness

        name = self.values["witness"]
        try:
            fingerprint = witness.authenticate(self.vault, name, answer.secret)
        except VaultError as exc:
            self._reprompt(exc)
            return
        self.witness_authenticated = name
        step = self.current_step
        self._own_append("witness.authenticated", {"witness": name, "fingerprint": fingerprint,
                                                   "step": step.id if step else None}, actor=name)
        prompt, self._auth_for = self._auth_for, None
        self._pending = self._present(prompt)

    def _back(self) -> None:
        prompt = self._pending
        assert prompt is not None
        if not prompt.can_go_back:
            why = prompt.no_back or self._back_refusal()
            self._reprompt(AnswerInvalid(f"There is no going back from here: {why}",
                                         next_step="Answer the question, or abort the ceremony."))
            return
        if prompt.local_back and self._auth_for is None and not self._can_go_back():
            self._advance(BackAnswer())  # the step asks its previous question again (prompts.local_back)
            return
        shown = self._auth_for or prompt
        self._auth_for = None
        if isinstance(shown, ReviewPrompt):
            self._own_append("review.withdrawn", {"step": shown.step_id, "action": shown.action,
                                                  "review_sha256": shown.review_sha256})
        self._rewind()

    def _rewind(self) -> None:
        """Start the step's body again and replay every accepted answer but the last (module doc)."""
        step = self.current_step
        assert step is not None and self._step_log
        dropped_ask, dropped = self._step_log[-1]
        keep = self._step_log[:-1]
        try:
            self._gen.close()  # runs the body's finally blocks (sessions close)
        except Exception:
            pass
        kind = registry()[step.kind]
        for attempt in (keep, []):  # a replay that no longer fits (the world changed): from the start
            self._gen = kind.run(StepContext(self, step), dict(step.params))
            self._step_log = []
            self._replaying = True
            try:
                prompt = next(self._gen)
                for ask, ans in attempt:
                    if prompt.ask != ask:
                        break
                    prompt = self._gen.send(ans)
                break
            except StopIteration:
                continue
            except VaultError as exc:
                self._replaying = False
                self._gen = None
                self._fail(exc)
                return
            finally:
                self._replaying = False
        previous = _display(dropped) if prompt.ask == dropped_ask else None
        self._pending = self._present(dataclasses.replace(prompt, previous=previous))

    def run_hook(self, point: str, step: StepDef) -> None:
        crashpoint.reached(f"{step.kind}:{point}")  # crash tests only (vault.crashpoint); a no-op otherwise
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
        self._hold_lock()  # HomeLocked: another process is changing this home
        try:
            check_preconditions(self.vault, self.definition)  # PreconditionFailed: nothing recorded yet
        except BaseException:
            self._release_lock()
            raise
        previous = journal.previous_end(self.vault)  # before this ceremony's own row exists
        journal.start_ceremony(self.vault, self, definition_sha256(self.definition))
        self.status = Status.RUNNING
        self.ledger_append("ceremony.started", {"name": self.definition.name, "mode": self.vault.mode.value,
                                                "practice": self.practice,
                                                "script_driven": self.options.script_driven,
                                                "definition_sha256": definition_sha256(self.definition),
                                                **identity_of_what_runs(self.definition),
                                                **previous})
        self.emit(CeremonyStarted(ceremony_id=self.ceremony_id, name=self.definition.name,
                                  mode=self.vault.mode.value, practice=self.practice,
                                  step_count=len(self.definition.steps)))
        self._read_identity()
        self._advance(None)
        return self._drain()

    def _read_identity(self) -> None:
        """What runs, read aloud before the first question (the TUI shows it over it until it is
        confirmed read) and kept with the transcript's facts: the definition's SHA-256 and the
        console's version and installed files' SHA-256, each in hex and PGP words."""
        ident = identity_of_what_runs(self.definition)
        first = self.definition.steps[0].id if self.definition.steps else "-"
        for title, digest in ((f"Ceremony definition {self.definition.name}: SHA-256", definition_sha256(self.definition)),
                              (f"Console {ident['console_version']}: SHA-256 of its installed files",
                               ident["package_sha256"])):
            text = f"{digest} ({' '.join(words_for(bytes.fromhex(digest)))})"
            self.identity_facts.append((title, text))
            self.emit(ReadAloud(ceremony_id=self.ceremony_id, title=title, text=text))
            self.record_fact(first, title, text)

    def resume_at(self, step_pos: int, values: dict[str, Any]) -> list[Event]:
        """Continue a crashed ceremony at ``step_pos`` (0-based) with the journaled values (recovery)."""
        self._hold_lock()
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
        if isinstance(answer, BackAnswer):
            self._back()
            return self._drain()
        if not accepts(prompt, answer):
            self._reprompt(AnswerInvalid(f"{type(answer).__name__} does not answer a {prompt.KIND} question.",
                                         next_step="Answer the question shown."))
            return self._drain()
        if self._auth_for is not None:
            self._witness_auth_answer(answer)  # type: ignore[arg-type]
        elif self._phase == "witness":
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

                guide = self._pending.guide
                self._pending = dataclasses.replace(
                    self._pending, progress=progress_view(self.secrets.collector.progress()),
                    guide=dataclasses.replace(guide, entered=()) if guide is not None else None,
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
        back = self._pending.can_go_back and (self._can_go_back() or self._pending.local_back)
        self._pending = dataclasses.replace(self._pending, error_code=exc.code, error_message=str(exc),
                                            can_go_back=back,
                                            no_back="" if back else (self._pending.no_back or self._back_refusal()))

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
                self._step_log, self._unrewindable = [], ""
                self._step_seq = self.vault.ledger.head().seq
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
            noted = self._noted
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
            if answer is not None and self._noted == noted:
                # answered a prompt ctx.ask did not make: cannot be replayed
                self._unrewindable = (_SECRET_ENTERED if isinstance(answer, (SecretAnswer, ShareAnswer, AttestationAnswer))
                                      else "this step took an answer it cannot replay (a confirmation of what was shown).")
            self._pending = self._present(prompt)
            return

    def _step_body_done(self, step: StepDef, result: dict[str, Any]) -> None:
        self.values.update(result)
        self._step_result = result
        self.run_hook("step-body-done", step)
        if step.witness:
            self._phase = "witness"
            ctx = StepContext(self, step)
            self._pending = self._present(ctx.prompt(
                WitnessPrompt, "witness", witness=self.values.get("witness") or "witness",
                summary=result.get("summary", step.title), read_aloud="", help=(
                    "Confirm the step went as read from the script, or record a deviation: "
                    "what was expected, what happened, what was done, who decided.")))
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
        elif not answer.confirmed:
            self._reprompt(AnswerInvalid("The witness neither confirmed the step nor recorded a deviation.",
                                         next_step="Confirm the step, record a deviation, or abort."))
            return
        witness = self.values.get("witness") or "witness"
        summary = self._step_result.get("summary", step.title)
        if answer.deviation is not None:
            d = answer.deviation
            journal.add_deviation(self.vault, self.ceremony_id, step.id, d)
            self.ledger_append("ceremony.deviation", {"step": step.id, "expected": d.expected,
                                                      "happened": d.happened, "action": d.action,
                                                      "decided_by": d.decided_by}, actor=witness)
            self.ledger_append("ceremony.witnessed", {"step": step.id, "witness": witness, "outcome": "deviation",
                                                      "summary": summary}, actor=witness)
            self.emit(DeviationRecorded(ceremony_id=self.ceremony_id, step_id=step.id, deviation=d))
        else:
            self.ledger_append("ceremony.witnessed", {"step": step.id, "witness": witness, "outcome": "confirmed",
                                                      "summary": summary}, actor=witness)
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
        from vault.ceremony import end_signing
        from vault.ceremony.transcript import completion_outcome, final_digest

        signer = end_signing.open_signer(self)  # the ledger audit key, while the quorum is held
        self._wipe("complete")
        dissents = [a.custodian_name for a in self.vault.store.attestations_of(self.ceremony_id) if not a.agree]
        deviations = len(self.vault.store.deviations_of(self.ceremony_id))
        outcome = completion_outcome(bool(dissents))
        self.ledger_append("ceremony.completed", {"name": self.definition.name, "steps": len(self.definition.steps),
                                                  "outcome": outcome, "dissents": dissents, "deviations": deviations,
                                                  "transcript_sha256": final_digest(self.vault, self.ceremony_id)})
        head = self.vault.ledger.head()
        journal.finish_ceremony(self.vault, self.ceremony_id, completed=True, reason=None)
        end_signing.sign_end(self, signer, outcome)
        self._release_lock()
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
        self._auth_for = None
        if self._gen is not None:
            try:
                self._gen.close()  # runs the step's finally blocks (they wipe what they hold)
            except Exception:
                pass
            self._gen = None
        self._release_transient_token(reason)
        from vault.ceremony import end_signing

        signer = end_signing.open_signer(self)  # the ledger audit key, while the quorum is held
        self._wipe("abort")
        from vault.ceremony import step_recovery

        undone = step_recovery.undo_on_abort(self.vault, self.ceremony_id, crashed=False)
        for line in undone:
            self.record_fact(step.id if step else "-", "Undone", line)
        if self._journal_id is not None and step is not None:
            journal.step_failed(self.vault, self.ceremony_id, step.index, code)
        from vault.ceremony.transcript import final_digest

        self.ledger_append("ceremony.aborted", {"name": self.definition.name, "step": step.id if step else None,
                                                "code": code, "reason": reason,
                                                "transcript_sha256": final_digest(self.vault, self.ceremony_id)})
        journal.finish_ceremony(self.vault, self.ceremony_id, completed=False, reason=f"{code}: {reason}")
        end_signing.sign_end(self, signer, "aborted")
        self._release_lock()
        self.status = Status.ABORTED
        self._pending = None
        self.outcome = Outcome(Status.ABORTED, self.ceremony_id, step.id if step else None,
                               step.index if step else None, code, reason)
        self.emit(CeremonyAborted(ceremony_id=self.ceremony_id, step_id=step.id if step else None, reason=reason))

    def _hold_lock(self) -> None:
        """The home's writer lock (vault.lock) for the ceremony's lifetime; a crash releases it."""
        held_before = self.vault.home_lock.held
        self.vault.lock_for_writing("ceremony", ceremony_id=self.ceremony_id)
        self._owns_lock = not held_before

    def _release_lock(self) -> None:
        if getattr(self, "_owns_lock", False):
            self._owns_lock = False
            self.vault.unlock()

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
