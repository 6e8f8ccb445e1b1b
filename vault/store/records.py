"""The values the store returns: frozen dataclasses and small vocabularies, never dicts.

Times are ISO 8601 UTC strings with microseconds (``2026-05-01T09:30:00.000000Z``): sortable as
text, exactly what the ledger hashes, and parsed by ``datetime.fromisoformat`` on Python 3.11.
JSON columns are returned as their canonical text (``*_json``) with a property that parses them,
so the records stay immutable and hashable.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from vault.types import KeyAlgorithm, KeyState, Mode, Role


class CustodianStatus(enum.Enum):
    ACTIVE = "active"
    RETIRED = "retired"


class ShareSetStatus(enum.Enum):
    PENDING = "pending"  # created, shares being distributed and verified back
    ACTIVE = "active"  # the one set that opens the vault
    RETIRED = "retired"  # opens nothing new any more


class BackupDecision(enum.Enum):
    BACKED_UP = "backed-up"  # extractable for wrapping only; every backup ceremony includes it
    NO_BACKUP = "no-backup"  # never extractable; the reason is recorded


class CeremonyStatus(enum.Enum):
    RUNNING = "running"
    COMPLETED = "completed"
    ABORTED = "aborted"


class StepStatus(enum.Enum):
    STARTED = "started"
    COMPLETED = "completed"
    FAILED = "failed"


class DrillResult(enum.Enum):
    OK = "ok"
    FAILED = "failed"


#: The lifecycle timestamp column written when a key enters each state.
STATE_TIME_COLUMN: dict[KeyState, str] = {
    KeyState.PRE_ACTIVATION: "pre_activation_at",
    KeyState.ACTIVE: "activated_at",
    KeyState.SUSPENDED: "suspended_at",
    KeyState.DEACTIVATED: "deactivated_at",
    KeyState.COMPROMISED: "compromised_at",
    KeyState.DESTROYED: "destroyed_at",
    KeyState.DESTROYED_COMPROMISED: "destroyed_compromised_at",
}


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass(frozen=True, slots=True)
class LedgerHead:
    """The last event of the chain: what is printed, read aloud and signed. seq 0 = empty ledger."""

    seq: int
    hash_hex: str


class LedgerRow(NamedTuple):
    """One stored ledger row, exactly as hashed (``details`` is its canonical JSON text).

    A NamedTuple, not a dataclass, on purpose: ``verify`` streams millions of these and a frozen
    slots dataclass costs ~6x more to build per row.
    """

    seq: int
    at: str
    actor: str
    ceremony_id: str | None
    action: str
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class CustodianRecord:
    id: int
    name: str
    role: Role
    public_key_pem: str
    passphrase_verifier: str
    kdf_params_json: str
    encrypted_signing_key: str | bytes
    status: CustodianStatus
    enrolled_at: str
    retired_at: str | None
    enrolled_ceremony_id: str | None
    retired_ceremony_id: str | None

    @property
    def kdf_params(self) -> dict:
        return _loads(self.kdf_params_json)


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    id: int
    group_threshold: int
    groups: tuple[tuple[int, int], ...]  # (member threshold, member count) per group
    passphrase: bool
    iteration_exponent: int
    drill_interval_days: int
    created_at: str
    ceremony_id: str | None

    def describe(self) -> str:
        return _describe(self.group_threshold, self.groups)


@dataclass(frozen=True, slots=True)
class ShareSetRecord:
    id: int
    name: str
    identifier: int  # the SLIP-39 identifier (15 bits), shared by every share of the set
    group_threshold: int
    groups: tuple[tuple[int, int], ...]
    iteration_exponent: int
    passphrase: bool
    commitment_salt: str
    check_value: str
    status: ShareSetStatus
    created_at: str
    activated_at: str | None
    retired_at: str | None
    ceremony_id: str | None
    policy_id: int | None

    def describe(self) -> str:
        return _describe(self.group_threshold, self.groups)


def _describe(group_threshold: int, groups: tuple[tuple[int, int], ...]) -> str:
    if len(groups) == 1 and group_threshold == 1:
        m, n = groups[0]
        return f"{m}-of-{n}"
    inner = ", ".join(f"{m}-of-{n}" for m, n in groups)
    return f"{group_threshold} of {len(groups)} groups ({inner})"


@dataclass(frozen=True, slots=True)
class ShareHolderRecord:
    """Who holds which share of a set. The share itself is never stored, only its commitment."""

    id: int
    share_set_id: int
    custodian_id: int
    custodian_name: str
    group_index: int  # 0-based, as SLIP-39 numbers them
    member_index: int
    commitment: str
    distributed_at: str | None
    verified_at: str | None  # first successful verify-back
    last_verified_at: str | None  # latest (drills and quorum activations refresh it)


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: int
    label: str
    cka_id: str  # hex
    algorithm: KeyAlgorithm
    state: KeyState
    version: int
    lineage: str
    previous_key_id: int | None
    fingerprint: str
    backup: BackupDecision
    no_backup_reason: str | None
    token_serial: str
    ceremony_id: str | None
    created_at: str
    pre_activation_at: str | None
    activated_at: str | None
    suspended_at: str | None
    deactivated_at: str | None
    compromised_at: str | None
    destroyed_at: str | None
    destroyed_compromised_at: str | None

    def entered_at(self, state: KeyState) -> str | None:
        """When the key (last) entered ``state``, or None if it never did."""
        return getattr(self, STATE_TIME_COLUMN[state])


@dataclass(frozen=True, slots=True)
class KeyTransitionRecord:
    id: int
    key_id: int
    from_state: KeyState | None  # None: the key's creation
    to_state: KeyState
    at: str
    actor: str
    ceremony_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class NewBackup:
    """What ``record_backup`` needs about a written, read-back bundle (key count comes from entries)."""

    path: str
    sha256: str
    format_version: int
    share_set_id: int
    kek_check_value: str
    ceremony_id: str | None = None


@dataclass(frozen=True, slots=True)
class BackupRecord:
    id: int
    path: str
    sha256: str
    format_version: int
    share_set_id: int
    kek_check_value: str
    key_count: int
    created_at: str
    ceremony_id: str | None


@dataclass(frozen=True, slots=True)
class BackupKeyRecord:
    backup_id: int
    key_id: int
    label: str
    fingerprint: str  # as written into the bundle


@dataclass(frozen=True, slots=True)
class CeremonyRecord:
    id: str
    definition_name: str
    definition_sha256: str
    mode: Mode
    status: CeremonyStatus
    started_at: str
    ended_at: str | None
    abort_reason: str | None
    script_driven: bool
    ledger_start: LedgerHead | None
    ledger_end: LedgerHead | None
    params_json: str

    @property
    def params(self) -> dict:
        return _loads(self.params_json)


@dataclass(frozen=True, slots=True)
class StepRecord:
    id: int
    ceremony_id: str
    step_index: int
    step_id: str
    kind: str
    attempt: int  # 1, 2, ... when a step is retried after a failure or a crash
    status: StepStatus
    started_at: str
    ended_at: str | None
    result_json: str | None
    error_code: str | None

    @property
    def result(self) -> Any:
        return _loads(self.result_json)


@dataclass(frozen=True, slots=True)
class AttestationRecord:
    id: int
    ceremony_id: str
    custodian_id: int
    custodian_name: str
    statement: str
    signature_hex: str
    agree: bool
    at: str
    step_id: str | None


@dataclass(frozen=True, slots=True)
class DeviationRecord:
    id: int
    ceremony_id: str
    step_id: str | None
    expected: str
    happened: str
    action: str
    decided_by: str
    at: str


@dataclass(frozen=True, slots=True)
class DrillRecord:
    id: int
    ceremony_id: str
    backup_id: int
    started_at: str
    ended_at: str
    duration_seconds: float
    result: DrillResult
    keys_compared: int
    detail: str
