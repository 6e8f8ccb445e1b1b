"""What the ceremony engine asks for (prompts) and what a front end gives back (answers).

The engine never waits for a person: ``engine.pending()`` returns one of the prompts below and
``engine.submit(answer)`` takes one of the answers. Every front end (the TUI, the script runner,
the recorder) sees exactly these types, so a screen is written once per prompt kind.

Common to every prompt (``Prompt``)::

    ceremony_id     the running ceremony's id; shown on every screen (share entry ties to it)
    ceremony_name   e.g. "init", "generate-key"
    practice        True on a practice home: the screen must say PRACTICE
    step_index      1-based number of the step in the definition
    step_count      how many steps the ceremony has
    step_id         the step's id in the definition (stable; scripts address answers by it)
    step_title      short title of the step
    ask             which question of the step this is (stable within the step: "confirm",
                    "passphrase:alice", "share", "reveal:bob", ...); scripts address answers by
                    (step_id, ask)
    read_aloud      what the administrator reads aloud before answering
    help            longer help text for the screen's help panel
    error_code /    set when the prompt is repeated because the previous answer was refused:
    error_message   the VaultError code and its one-line message (safe to show)
    can_go_back     the engine accepts ``BackAnswer()`` here: it returns to the step's previous
                    question with nothing done (see "Going back" in vault.ceremony.engine)
    previous        after a back, the answer this question had (text, choice value, "yes"/"no"),
                    for the front end to offer again; never a secret
    no_back         where ``can_go_back`` is False: why (for the front end to say at once when
                    someone presses "back", without submitting anything)
    local_back      the step itself takes a ``BackAnswer`` here, where the engine cannot rewind
                    (e.g. enroll: back from custodian #2's passphrase to their name, after #1
                    was enrolled); nothing of the question is done yet

Valid answers per prompt are in each class's ``ANSWERS``; ``AbortAnswer(reason)`` is valid at
any prompt and aborts the ceremony with the reason recorded in the ledger.

Secrets travel only as ``vault.secret.Secret``; the dataclasses' reprs show ``<Secret ...
redacted>``, never the value. A front end that received a ``ShareRevealPrompt`` must stop
displaying the share as soon as it submits its answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

from vault.secret import Secret
from vault.shares.entry import EntryGuide  # public facts for early checks as the share is typed
from vault.shares.model import GroupProgress  # per-group k-of-T, the collector's own value


# --- small values ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MemberRef:
    """Which share of the set: SLIP-39 group and member indexes, 0-based."""

    group: int
    member: int

    def describe(self, single_group: bool = True) -> str:
        if single_group:
            return f"share {self.member + 1}"
        return f"group {self.group + 1}, share {self.member + 1}"


@dataclass(frozen=True, slots=True)
class QuorumProgress:
    """Progress of a quorum activation: per group k-of-T, and groups complete of the group threshold."""

    groups: tuple[GroupProgress, ...]
    groups_complete: int
    group_threshold: int
    shares_entered: int

    @property
    def complete(self) -> bool:
        return self.groups_complete >= self.group_threshold

    def describe(self) -> str:
        """E.g. ``2 of 3 shares`` or ``group 1: 2 of 3; group 2: 0 of 2; 1 of 2 groups``."""
        if len(self.groups) == 1 and self.group_threshold == 1:
            g = self.groups[0]
            return f"{g.entered} of {g.threshold} shares"
        parts = [f"group {g.group + 1}: {g.entered} of {g.threshold}" for g in self.groups]
        parts.append(f"{self.groups_complete} of {self.group_threshold} groups")
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Deviation:
    """A recorded departure from the script (DNSSEC ceremony style)."""

    expected: str
    happened: str
    action: str
    decided_by: str


class PathPurpose(enum.Enum):
    OUTPUT_FILE = "output-file"  # must not exist; the console never overwrites
    INPUT_FILE = "input-file"  # must exist and be readable
    OUTPUT_DIRECTORY = "output-directory"  # created if missing; must be empty


class VerifyMode(enum.Enum):
    FULL = "full"  # re-enter the whole share
    QUIZ = "quiz"  # enter the words at ``positions`` (one from each third)


# --- prompts --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    KIND: ClassVar[str] = "prompt"
    ANSWERS: ClassVar[tuple[type, ...]] = ()

    ceremony_id: str
    ceremony_name: str
    practice: bool
    step_index: int
    step_count: int
    step_id: str
    step_title: str
    ask: str
    read_aloud: str = ""
    help: str = ""
    error_code: str | None = None
    error_message: str | None = None
    can_go_back: bool = False
    previous: str | None = None
    no_back: str = ""
    local_back: bool = False

    @property
    def header(self) -> str:
        """``PRACTICE · init (c-…) · step 3 of 9 · Distribute shares`` for a screen's title bar."""
        mode = "PRACTICE · " if self.practice else ""
        return (f"{mode}{self.ceremony_name} ({self.ceremony_id}) · step {self.step_index} of "
                f"{self.step_count} · {self.step_title}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecklistPrompt(Prompt):
    """Every item must be confirmed; answer ``ConfirmAnswer(True)`` once all are ticked."""

    KIND: ClassVar[str] = "checklist"
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmPrompt(Prompt):
    """A yes/no question. ``ConfirmAnswer(False)`` means no (what follows is step-specific)."""

    KIND: ClassVar[str] = "confirm"
    question: str
    yes_label: str = "Yes"
    no_label: str = "No"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoicePrompt(Prompt):
    KIND: ClassVar[str] = "choice"
    question: str
    choices: tuple[Choice, ...]
    default: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TextPrompt(Prompt):
    """Free text (a name, a label, a reason). ``pattern`` is a regular expression it must match."""

    KIND: ClassVar[str] = "text"
    question: str
    default: str | None = None
    pattern: str | None = None
    max_length: int = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class TypedConfirmPrompt(Prompt):
    """Destructive step: the operator types ``expected`` exactly (e.g. the key's label)."""

    KIND: ClassVar[str] = "typed-confirm"
    question: str
    expected: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PathPrompt(Prompt):
    KIND: ClassVar[str] = "path"
    question: str
    purpose: PathPurpose = PathPurpose.OUTPUT_FILE
    suggestion: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PassphrasePrompt(Prompt):
    """A custodian's passphrase. ``new=True``: the front end asks twice and submits once they match."""

    KIND: ClassVar[str] = "passphrase"
    custodian: str
    purpose: str  # e.g. "enroll", "unlock your signing key", "SLIP-39 passphrase"
    new: bool = False
    min_length: int = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareEntryPrompt(Prompt):
    """Collect one custodian's share for quorum activation (shares are tied to ``ceremony_id``).

    Answers: ``ShareAnswer`` (the words), ``ResetAnswer`` (drop every share entered so far),
    ``CancelAnswer`` (stop the activation; the partial quorum is wiped).
    """

    KIND: ClassVar[str] = "share-entry"
    custodian: str | None
    progress: QuorumProgress
    identifying_words: str | None = None  # of the set being collected, once known
    share_set_name: str = ""
    passphrase_required: bool = False
    guide: EntryGuide | None = field(default=None, repr=False)  # early checks (public records only)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareReadyPrompt(Prompt):
    """Ready gate: only custodian ``custodian`` at the screen, everyone else looking away."""

    KIND: ClassVar[str] = "share-ready"
    custodian: str
    ref: MemberRef
    number: int  # 1-based position in the distribution order
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareRevealPrompt(Prompt):
    """Show the share to its one holder. Answer ``ConfirmAnswer(True)`` = "I have recorded it"."""

    KIND: ClassVar[str] = "share-reveal"
    custodian: str
    ref: MemberRef
    share: Secret = field(repr=False)
    identifying_words: str
    word_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareVerifyPrompt(Prompt):
    """The custodian proves the record: ``FULL`` → ``ShareAnswer`` of the whole share;
    ``QUIZ`` → ``SecretAnswer`` of the words at ``positions`` (1-based), space-separated, in order.
    ``ResetAnswer`` goes back to the reveal (show the share again); front ends offer it only
    after a failed attempt (``error_code`` set), so the first type-back is always from the card."""

    KIND: ClassVar[str] = "share-verify"
    custodian: str
    ref: MemberRef
    mode: VerifyMode
    positions: tuple[int, ...] = ()
    word_count: int = 0
    guide: EntryGuide | None = field(default=None, repr=False)  # FULL: early checks of the typed-back share


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessPrompt(Prompt):
    """The witness confirms the step went as scripted, or records a deviation."""

    KIND: ClassVar[str] = "witness"
    witness: str
    summary: str  # what the step did, in one or two lines


@dataclass(frozen=True, slots=True, kw_only=True)
class AttestationPrompt(Prompt):
    """Closing attestation of one participant, signed with their personal key.

    ``statement`` is the exact text they sign (includes the ceremony's closing ledger head).
    """

    KIND: ClassVar[str] = "attestation"
    participant: str
    role: str
    statement: str
    ledger_head_hex: str
    ledger_head_words: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One line of a review: what it is, its value, and (for digests and fingerprints) the
    value's PGP words, read aloud by the administrator and checked by the witness."""

    label: str
    value: str
    words: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewPrompt(Prompt):
    """Before an irreversible HSM action: exactly what will happen, confirmed by the
    administrator AND the witness (``ReviewAnswer(True, True)``) before the HSM is touched.
    ``BackAnswer()`` (``can_go_back``) returns to the step's answers with nothing done.

    ``review_sha256`` is the SHA-256 of the review's canonical JSON (vault.ceremony.review);
    the ledger's ``review.confirmed`` event carries the review and this digest."""

    KIND: ClassVar[str] = "review"
    action: str  # e.g. "generate-key"
    title: str  # one line: what the HSM is about to do
    items: tuple[ReviewItem, ...]
    administrator: str
    witness: str
    review_sha256: str


# --- answers --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class ConfirmAnswer(Answer):
    yes: bool = True


@dataclass(frozen=True, slots=True)
class ChoiceAnswer(Answer):
    value: str


@dataclass(frozen=True, slots=True)
class TextAnswer(Answer):
    text: str


@dataclass(frozen=True, slots=True)
class SecretAnswer(Answer):
    secret: Secret


@dataclass(frozen=True, slots=True)
class ShareAnswer(Answer):
    share: Secret
    custodian: str | None = None  # who presented it, when the front end asked


@dataclass(frozen=True, slots=True)
class ResetAnswer(Answer):
    pass


@dataclass(frozen=True, slots=True)
class CancelAnswer(Answer):
    pass


@dataclass(frozen=True, slots=True)
class WitnessAnswer(Answer):
    confirmed: bool = True
    deviation: Deviation | None = None


@dataclass(frozen=True, slots=True)
class AttestationAnswer(Answer):
    agree: bool
    passphrase: Secret
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ReviewAnswer(Answer):
    """Both must be True: the administrator confirms and the witness confirms."""

    administrator: bool = True
    witness: bool = True


@dataclass(frozen=True, slots=True)
class BackAnswer(Answer):
    """Valid where ``prompt.can_go_back``: back to the step's previous question, nothing done."""


@dataclass(frozen=True, slots=True)
class AbortAnswer(Answer):
    """Valid at any prompt: abort the ceremony; ``reason`` goes to the ledger and transcript."""

    reason: str


# Which answers each prompt accepts (AbortAnswer is accepted everywhere).
ChecklistPrompt.ANSWERS = (ConfirmAnswer,)
ConfirmPrompt.ANSWERS = (ConfirmAnswer,)
ChoicePrompt.ANSWERS = (ChoiceAnswer,)
TextPrompt.ANSWERS = (TextAnswer,)
TypedConfirmPrompt.ANSWERS = (TextAnswer,)
PathPrompt.ANSWERS = (TextAnswer,)
PassphrasePrompt.ANSWERS = (SecretAnswer,)
ShareEntryPrompt.ANSWERS = (ShareAnswer, ResetAnswer, CancelAnswer)
ShareReadyPrompt.ANSWERS = (ConfirmAnswer,)
ShareRevealPrompt.ANSWERS = (ConfirmAnswer,)
ShareVerifyPrompt.ANSWERS = (ShareAnswer, SecretAnswer, ResetAnswer)
WitnessPrompt.ANSWERS = (WitnessAnswer,)
AttestationPrompt.ANSWERS = (AttestationAnswer,)
ReviewPrompt.ANSWERS = (ReviewAnswer,)

PROMPT_KINDS: dict[str, type[Prompt]] = {
    cls.KIND: cls
    for cls in (ChecklistPrompt, ConfirmPrompt, ChoicePrompt, TextPrompt, TypedConfirmPrompt, PathPrompt,
                PassphrasePrompt, ShareEntryPrompt, ShareReadyPrompt, ShareRevealPrompt, ShareVerifyPrompt,
                WitnessPrompt, AttestationPrompt, ReviewPrompt)
}


def accepts(prompt: Prompt, answer: Answer) -> bool:
    if isinstance(answer, BackAnswer):
        return prompt.can_go_back
    return isinstance(answer, AbortAnswer) or isinstance(answer, type(prompt).ANSWERS)


__all__ = [
    "Answer", "AbortAnswer", "AttestationAnswer", "BackAnswer", "ReviewAnswer", "ReviewItem", "ReviewPrompt", "AttestationPrompt", "CancelAnswer", "ChecklistPrompt",
    "Choice", "ChoiceAnswer", "ChoicePrompt", "ConfirmAnswer", "ConfirmPrompt", "Deviation", "GroupProgress",
    "MemberRef", "PassphrasePrompt", "PathPrompt", "PathPurpose", "Prompt", "PROMPT_KINDS", "QuorumProgress",
    "ResetAnswer", "SecretAnswer", "ShareAnswer", "ShareEntryPrompt", "ShareReadyPrompt", "ShareRevealPrompt",
    "ShareVerifyPrompt", "TextAnswer", "TextPrompt", "TypedConfirmPrompt", "VerifyMode", "WitnessAnswer",
    "WitnessPrompt", "accepts",
]
