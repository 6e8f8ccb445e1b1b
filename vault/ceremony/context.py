"""``StepContext``: what a step body sees of the running ceremony.

A step body is a generator ``run(ctx, params)`` that yields prompts (built with ``ctx.prompt``),
receives answers, calls vault.operations, and returns a dict of non-secret results. That dict is
journaled with the step and merged into ``ctx.values`` (so later steps, and a resumed ceremony,
see it). Secrets of the ceremony (the activated quorum, a partial share collection, shares still
being distributed) live only on the context, in memory, and are wiped when the ceremony ends.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, TypeVar

from vault.ceremony.events import Event, Notice, ProgressEvent, ReadAloud
from vault.ceremony.prompts import Answer, Prompt
from vault.errors import VaultError

if TYPE_CHECKING:
    from vault.ceremony.definitions import CeremonyDefinition, StepDef

T = TypeVar("T")


class _Back:
    """What ``StepContext.ask(..., local_back=True)`` returns for a back (see prompts.local_back)."""

    def __repr__(self) -> str:
        return "BACK"


BACK = _Back()


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a ceremony runs. Defaults are an interactive run."""

    script_driven: bool = False
    share_dir: Path | None = None  # scripted runs: new shares are written here (and only here)
    allow_production_share_export: bool = False
    airgap_override_reason: str | None = None  # pre-answered override (scripts); else a prompt
    airgap_root: Path = Path("/")  # tests point this at a fake sysfs/procfs
    kdf_profile: str | None = None  # "default" | "practice" | "fast-for-tests"; None = the home's
    verify_mode: str = "full"  # share verify-back: "full" | "quiz"
    idle_timeout: float | None = None  # seconds; None = the home's [ceremony] idle_timeout_seconds
    # Called before every step that cannot be repeated, with (step, the ceremony's values); a
    # VaultError stops the ceremony there, before the step (a script's check: script_check).
    preflight: Any = None


@dataclass
class Secrets:
    """The ceremony's in-memory secrets; ``wipe()`` on every way out."""

    quorum: Any = None  # vault.operations.quorum.ActiveQuorum
    collector: Any = None  # vault.shares.ShareCollector while shares are being entered
    new_split: Any = None  # vault.shares.SplitResult while new shares are distributed
    new_quorum: Any = None  # the new QS (init, reshare) until committed
    new_passphrase: Any = None  # the new set's SLIP-39 passphrase (Secret) until committed
    new_holders: Any = None  # [(ShareRef, custodian)] once every share was verified back
    transient_pins: Any = None  # init: vault.operations.token.TransientPins until the derived PINs are set

    def wipe(self) -> None:
        self.new_holders = None
        for name in ("collector", "quorum", "new_quorum", "new_passphrase", "transient_pins"):
            obj = getattr(self, name)
            if obj is not None:
                try:
                    obj.wipe()
                except Exception:  # wiping must never stop an abort
                    pass
                setattr(self, name, None)
        if self.new_split is not None:
            for _ref, share in self.new_split.shares:
                share.wipe()
            self.new_split = None


class StepContext:
    def __init__(self, engine, step: "StepDef") -> None:
        self._engine = engine
        self.step = step

    # -- the ceremony --------------------------------------------------------------------------
    @property
    def vault(self):
        return self._engine.vault

    @property
    def definition(self) -> "CeremonyDefinition":
        return self._engine.definition

    @property
    def ceremony_id(self) -> str:
        return self._engine.ceremony_id

    @property
    def practice(self) -> bool:
        return self._engine.practice

    @property
    def options(self) -> RunOptions:
        return self._engine.options

    @property
    def values(self) -> dict[str, Any]:
        return self._engine.values

    @property
    def secrets(self) -> Secrets:
        return self._engine.secrets

    @property
    def rng(self) -> random.Random:
        return self._engine.rng

    @property
    def actor(self) -> str:
        return self.values.get("administrator") or "console"

    def now(self) -> str:
        return self._engine.utc_now()

    # -- talking to the front end -----------------------------------------------------------------
    def prompt(self, cls: type[Prompt], ask: str, **fields: Any) -> Prompt:
        fields.setdefault("read_aloud", self.step.read_aloud)
        fields.setdefault("help", self.step.help)
        return cls(ceremony_id=self.ceremony_id, ceremony_name=self.definition.name, practice=self.practice,
                   step_index=self.step.index, step_count=len(self.definition.steps), step_id=self.step.id,
                   step_title=self.step.title, ask=ask, **fields)

    def ask(self, cls: type[Prompt], ask: str, parse: Callable[[Answer], T] = lambda a: a,  # type: ignore[assignment,return-value]
            **fields: Any) -> Generator[Prompt, Answer, T]:
        """Yield the prompt until ``parse(answer)`` accepts; a VaultError re-prompts with its message.

        With ``local_back=True`` a ``BackAnswer`` (which the engine hands to the step where it
        cannot rewind) returns ``BACK``: the step asks its previous question again itself."""
        from vault.ceremony.prompts import BackAnswer

        prompt = self.prompt(cls, ask, **fields)
        while True:
            answer = yield prompt
            if isinstance(answer, BackAnswer) and prompt.local_back:
                return BACK
            try:
                value = parse(answer)
            except VaultError as exc:
                self._engine.note_answer(ask, answer, accepted=False)
                self.emit_rejected(exc)
                prompt = dataclasses.replace(prompt, error_code=exc.code, error_message=str(exc))
                continue
            self._engine.note_answer(ask, answer, accepted=True)
            return value

    def review(self, action: str, title: str, items, *, ask: str = "review") -> Generator[Prompt, Answer, None]:
        """Review before an irreversible action (vault.ceremony.review): returns once the
        administrator and the witness confirmed it and the ledger has ``review.confirmed``."""
        from vault.ceremony.prompts import ReviewAnswer, ReviewPrompt
        from vault.ceremony.review import review_body, review_sha256
        from vault.errors import AnswerInvalid, PreconditionFailed

        items = tuple(items)
        witness = self.values.get("witness")
        administrator = self.values.get("administrator")
        if not witness or not administrator:
            raise PreconditionFailed(f"Step '{self.step.id}' reviews an irreversible action, which the administrator "
                                     "and the witness confirm, but the ceremony has not named both.",
                                     next_step="Put a participants (or enroll) step for both before it.")
        body = review_body(self.ceremony_id, self.step.id, action, title, items)
        digest = review_sha256(body)

        def parse(a: ReviewAnswer) -> None:
            if not (a.administrator and a.witness):
                who = " and ".join(n for n, ok in ((administrator, a.administrator), (witness, a.witness)) if not ok)
                raise AnswerInvalid(f"The review needs both confirmations; {who} has not confirmed.",
                                    next_step="Both confirm, go back to change an answer, or abort.")

        yield from self.ask(ReviewPrompt, ask, parse, action=action, title=title, items=items,
                            administrator=administrator, witness=witness, review_sha256=digest,
                            read_aloud=f"{administrator}: read the review aloud. {witness}: check it, then both confirm.")
        self._engine.review_confirmed(self.step, body, digest)

    def emit(self, event: Event) -> None:
        self._engine.emit(event)

    def emit_rejected(self, exc: VaultError) -> None:
        from vault.ceremony.events import AnswerRejected

        self.emit(AnswerRejected(ceremony_id=self.ceremony_id, step_id=self.step.id, code=exc.code, message=str(exc)))

    def notice(self, message: str, level: str = "info") -> None:
        self.emit(Notice(ceremony_id=self.ceremony_id, message=message, level=level))

    def progress(self, message: str, done: int = 0, total: int | None = None) -> None:
        self.emit(ProgressEvent(ceremony_id=self.ceremony_id, step_id=self.step.id, message=message, done=done,
                                total=total))

    def read_aloud(self, title: str, text: str) -> None:
        self.emit(ReadAloud(ceremony_id=self.ceremony_id, title=title, text=text))
        self._engine.record_fact(self.step.id, title, text)

    # -- records -------------------------------------------------------------------------------------
    def ledger(self, action: str, details: dict[str, Any], *, actor: str | None = None) -> Any:
        """Append to the ledger as the administrator, or as ``actor`` (the person who acted)."""
        return self._engine.ledger_append(action, details, actor=actor)

    def run_hook(self, point: str) -> None:
        self._engine.run_hook(point, self.step)
