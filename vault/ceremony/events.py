"""What the engine reports back: ``engine.submit(answer) -> list[Event]``.

Events are facts for the front end to show (and for the recorder and the transcript to keep);
they never carry a secret. Every event has the ``ceremony_id`` and the UTC ``at`` time (ISO 8601,
seconds, ``Z``). ``ProgressEvent`` reports long HSM work; the drive loop passes events to the
responder's ``on_event`` as they come.

Vocabulary::

    CeremonyStarted     name, mode, practice, step_count
    StepStarted         step_index, step_id, title, kind
    StepFinished        step_index, step_id, outcome ("done" | "skipped")
    ProgressEvent       step_id, message, done, total (total None = indeterminate)
    Notice              level ("info" | "warning"), message: anything worth showing
    ReadAloud           title, text: to be read aloud (fingerprints as PGP words, ledger heads)
    AnswerRejected      step_id, code, message: the answer was refused; the prompt repeats
    ShareAccepted       custodian, progress (QuorumProgress)
    QuorumActivated     share_set_name, custodians
    QuorumWiped         reason ("complete" | "cancel" | "reset" | "abort" | "idle" | "error")
    ShareVerified       custodian, ref
    ShareSetCommitted   share_set_name, policy, identifying_words
    DeviationRecorded   step_id, deviation
    Attested            participant, agree
    LedgerAppended      seq, action, hash
    CeremonyCompleted   ledger_head_hex, ledger_head_words
    CeremonyAborted     step_id, reason
    CeremonyFailed      step_id, code, message (a terminal VaultError; the ceremony is aborted)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from vault.ceremony.prompts import Deviation, MemberRef, QuorumProgress


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    ceremony_id: str
    at: str = field(default_factory=utc_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyStarted(Event):
    name: str
    mode: str
    practice: bool
    step_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Event):
    step_index: int
    step_id: str
    title: str
    kind: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished(Event):
    step_index: int
    step_id: str
    outcome: str = "done"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressEvent(Event):
    step_id: str
    message: str
    done: int = 0
    total: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice(Event):
    message: str
    level: str = "info"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadAloud(Event):
    title: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AnswerRejected(Event):
    step_id: str
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareAccepted(Event):
    custodian: str | None
    progress: QuorumProgress


@dataclass(frozen=True, slots=True, kw_only=True)
class QuorumActivated(Event):
    share_set_name: str
    custodians: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class QuorumWiped(Event):
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareVerified(Event):
    custodian: str
    ref: MemberRef


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareSetCommitted(Event):
    share_set_name: str
    policy: str
    identifying_words: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviationRecorded(Event):
    step_id: str
    deviation: Deviation


@dataclass(frozen=True, slots=True, kw_only=True)
class Attested(Event):
    participant: str
    agree: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerAppended(Event):
    seq: int
    action: str
    hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyCompleted(Event):
    ledger_head_hex: str
    ledger_head_words: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyAborted(Event):
    step_id: str | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyFailed(Event):
    step_id: str | None
    code: str
    message: str


__all__ = [
    "AnswerRejected", "Attested", "CeremonyAborted", "CeremonyCompleted", "CeremonyFailed", "CeremonyStarted",
    "DeviationRecorded", "Event", "LedgerAppended", "Notice", "ProgressEvent", "QuorumActivated", "QuorumWiped",
    "ReadAloud", "ShareAccepted", "ShareSetCommitted", "ShareVerified", "StepFinished", "StepStarted", "utc_now",
]
