"""Master keys: generate, rotate, change state, mark compromised, destroy (NIST SP 800-57).

HSM first, database second, in one direction only: a key is generated on the token and then
recorded; if recording fails the new objects are destroyed again. Destruction goes the other
way: the tombstone and its ledger event are written in a transaction that commits only after
the token confirmed the objects are gone, so a failed destroy leaves the row unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault import crashpoint
from vault.errors import (
    HsmCheckFailed,
    KeyNotFound,
    LabelExists,
    MechanismUnsupported,
    NoBackupReasonMissing,
    RecordNotFound,
    TransitionRefused,
)
from vault.hsm import HsmSession, KeyObject
from vault.operations._common import ACTOR, check_label, destroy_quietly, require_reason
from vault.store.keys import allowed_next_states
from vault.store.records import BackupDecision, BackupRecord, KeyRecord
from vault.cryptoperiods import cryptoperiod_days
from vault.keynames import check_name, token_label
from vault.types import KeyAlgorithm, KeyPurpose, KeyState, transition_allowed

if TYPE_CHECKING:
    from vault.vault import Vault

#: States whose keys every backup includes (a destroyed or compromised key is never re-backed-up).
BACKED_UP_STATES = frozenset({KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.DEACTIVATED})
DESTROYED_STATES = frozenset({KeyState.DESTROYED, KeyState.DESTROYED_COMPROMISED})


@dataclass(frozen=True, slots=True)
class DestructionRecord:
    """The tombstone, and every recorded backup that still holds the key (to be destroyed too)."""

    key: KeyRecord
    previous_state: KeyState
    backups_holding: tuple[BackupRecord, ...]


def _key_row(vault: Vault, label: str) -> KeyRecord:
    """The key addressed by ``label``: ``name``, ``name@N`` or a token label."""
    return resolve_key(vault, label)


def resolve_key(vault: Vault, ref: str) -> KeyRecord:
    """``name`` (the newest active version), ``name@N``, or a token label -> its record."""
    try:
        return vault.store.resolve_key(ref)
    except RecordNotFound:
        raise KeyNotFound(f"No key {ref!r} in this vault.",
                          next_step="List keys with `custodian keys list`; address one as NAME or NAME@VERSION.") from None


def token_key(session: HsmSession, record: KeyRecord) -> KeyObject:
    """The token's object of ``record``, checked to be the same key (CKA_ID and fingerprint)."""
    if record.token_serial != session.token.serial:
        raise KeyNotFound(
            f"Key {record.label!r} lives on token serial {record.token_serial}, not on {session.token.describe()}.",
            next_step="Open a session on the key's token, or restore the key onto this one first.",
        )
    key = session.get_key(record.label)
    if key.key_id != record.cka_id or (key.fingerprint and key.fingerprint != record.fingerprint):
        raise HsmCheckFailed(
            f"The token's key {record.label!r} is not the one the vault recorded "
            f"(recorded {record.fingerprint}, token has {key.fingerprint or 'no fingerprint'})."
        )
    return key


# --- generation --------------------------------------------------------------------------------
def preflight_generate(
    vault: Vault,
    session: HsmSession,
    label: str,
    algorithm: KeyAlgorithm,
    backup: bool,
    *,
    no_backup_reason: str | None = None,
    purpose: KeyPurpose | None = None,
) -> None:
    """Everything that can be checked before a key is generated; raises, changes nothing.

    The label is free in the database and on the token; the capability probe says the token
    generates ``algorithm``; with ``backup`` the token can also wrap and unwrap it. Without
    backup the decision is explicit; its reason is required by ``generate_key`` (and checked
    here too when it is passed).
    """
    check_label(label)
    algorithm = _algorithm(algorithm)
    _purpose(purpose, algorithm)
    try:
        existing = vault.store.get_key_by_label(label)
    except RecordNotFound:
        pass
    else:
        raise LabelExists(f"The vault already has a key labelled {label!r} ({existing.state.value}).")
    try:
        session.get_key(label)
    except KeyNotFound:
        pass
    else:
        raise LabelExists(f"The token {session.token.describe()} already has a key labelled {label!r}.")
    capabilities = session.probe(session.wrap_mechanism)
    if not capabilities[algorithm].generate:
        raise MechanismUnsupported(
            f"The token {session.token.describe()} cannot generate {algorithm.value} keys. "
            f"{capabilities[algorithm].note}".strip()
        )
    if backup:
        capabilities.require_backup(algorithm)
        if session.trusted_wrapping:  # its backup KEK must be made trusted by the SO: not ours under hsm-procedure
            from vault.operations.hsm_procedure import refuse_pin_change

            refuse_pin_change(vault, "log in as the token's security officer to make the backup key trusted",
                              next_step="Generate it without backup, or see docs/hsm-support.md (hsm-procedure) for "
                                        "what a profile override of trusted_wrapping trades.")
    elif no_backup_reason is not None:
        _require_no_backup_reason(label, no_backup_reason)


def _require_no_backup_reason(label: str, reason: str | None) -> str:
    if not (isinstance(reason, str) and reason.strip()):
        raise NoBackupReasonMissing(f"Key {label!r} would be generated without backup, and no reason was given.")
    return reason.strip()


def generate_key(
    vault: Vault,
    session: HsmSession,
    label: str,
    algorithm: KeyAlgorithm,
    *,
    backup: bool = True,
    no_backup_reason: str | None = None,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    purpose: KeyPurpose | None = None,
    activate_after: str | None = None,
    cryptoperiod: int | None = None,
) -> KeyRecord:
    """Generate version 1 of the key named ``label`` on the token and record it.

    The token label is derived from the name (vault.keynames). ``purpose`` (default: encrypt
    for AES, sign for pairs) sets the token's capability attributes. Without
    ``activate_after`` the key is activated at once; with one it stays in
    pre-activation until an activate step, on or after that time, activates it. Its cryptoperiod
    (``cryptoperiod`` days, default the vault's for the purpose) starts at activation.
    """
    algorithm = _algorithm(algorithm)
    purpose = _purpose(purpose, algorithm)
    name = check_name(label)
    label = token_label(name, 1)
    reason = None if backup else _require_no_backup_reason(label, no_backup_reason)
    preflight_generate(vault, session, label, algorithm, backup, no_backup_reason=reason, purpose=purpose)
    days = cryptoperiod or cryptoperiod_days(vault.store, purpose)
    key = session.generate(label, algorithm, backup=backup, purpose=purpose)
    crashpoint.reached("generate:on-token")  # crash tests: the key exists, the database does not know it
    try:
        with vault.store.atomic():
            record = _record_new_key(vault, session, key, backup, reason, ceremony_id, actor,
                                     purpose=purpose, activate_after=activate_after, days=days)
            vault.ledger.append("key.generated", _key_details(record), actor=actor, ceremony_id=ceremony_id)
            if reason:
                vault.ledger.append(
                    "key.no_backup_decision",
                    {"label": label, "algorithm": algorithm.value, "fingerprint": key.fingerprint, "reason": reason},
                    actor=actor,
                    ceremony_id=ceremony_id,
                )
    except BaseException:
        destroy_quietly(session, key)
        raise
    return record


def _algorithm(algorithm: KeyAlgorithm | str) -> KeyAlgorithm:
    try:
        return KeyAlgorithm(algorithm)
    except ValueError:
        known = ", ".join(a.value for a in KeyAlgorithm)
        raise MechanismUnsupported(f"{algorithm!r} is not an algorithm the console generates.",
                                   next_step=f"Choose one of: {known}.") from None  # fmt: skip


def _purpose(purpose: KeyPurpose | str | None, algorithm: KeyAlgorithm) -> KeyPurpose:
    from vault.errors import PurposeMismatch

    try:
        chosen = KeyPurpose(purpose) if purpose is not None else KeyPurpose.default_for(algorithm)
    except ValueError:
        raise PurposeMismatch(f"{purpose!r} is not a key purpose.",
                              next_step="Choose one of: " + ", ".join(p.value for p in KeyPurpose) + ".") from None
    if not chosen.allows(algorithm):
        fits = ", ".join(p.value for p in KeyPurpose if p.allows(algorithm))
        raise PurposeMismatch(f"A {algorithm.value} key cannot have the purpose {chosen.value}.",
                              next_step=f"For {algorithm.value} choose: {fits}.")
    return chosen


def _record_new_key(vault: Vault, session, key: KeyObject, backup: bool, reason, ceremony_id, actor, *,
                    purpose: KeyPurpose, activate_after: str | None, days: int) -> KeyRecord:
    record = vault.store.add_key(
        key.label,
        cka_id=key.key_id,
        algorithm=key.algorithm,
        fingerprint=key.fingerprint,
        token_serial=session.token.serial,
        actor=actor,
        ceremony_id=ceremony_id,
        backup=BackupDecision.BACKED_UP if backup else BackupDecision.NO_BACKUP,
        no_backup_reason=reason,
        state=KeyState.PRE_ACTIVATION,
        reason="generated; post-generation checks passed",
        purpose=purpose,
        activate_after=activate_after,
        cryptoperiod_days=days,
    )
    if activate_after is not None:
        return record  # stays in pre-activation: an activate step, on or after the date, activates it
    return vault.store.transition_key(
        record.id, KeyState.ACTIVE, actor=actor, ceremony_id=ceremony_id, reason="activated at generation"
    )


def _key_details(record: KeyRecord) -> dict:
    return {
        "label": record.label,
        "algorithm": record.algorithm.value,
        "cka_id": record.cka_id,
        "fingerprint": record.fingerprint,
        "version": record.version,
        "lineage": record.lineage,
        "name": record.name,
        "purpose": record.purpose.value,
        "expires_at": record.expires_at,
        "activate_after": record.activate_after,
        "state": record.state.value,
        "backup": record.backup.value,
        "token_serial": record.token_serial,
    }


# --- rotation ----------------------------------------------------------------------------------
def rotate_key(
    vault: Vault,
    session: HsmSession,
    label: str,
    *,
    new_label: str | None = None,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> tuple[KeyRecord, KeyRecord]:
    """The next version of ``label``'s lineage, generated and active; the previous one deactivated.

    Returns (previous, new). The new key keeps the lineage's backup decision and reason.
    """
    old = _key_row(vault, label)
    latest = vault.store.latest_version(old.lineage)
    if latest.id != old.id:
        raise TransitionRefused(
            f"Key {label!r} is version {old.version}; version {latest.version} ({latest.label!r}) is the latest.",
            next_step=f"Rotate {latest.name!r} (version {latest.version}) instead.",
        )
    if old.state not in (KeyState.ACTIVE, KeyState.SUSPENDED):
        raise TransitionRefused(f"Key {label!r} is {old.state.value}; only an active or suspended key is rotated.")
    new_label = new_label or token_label(old.lineage, old.version + 1)
    backup = old.backup is BackupDecision.BACKED_UP
    preflight_generate(vault, session, new_label, old.algorithm, backup, no_backup_reason=old.no_backup_reason,
                       purpose=old.purpose)
    key = session.generate(new_label, old.algorithm, backup=backup, purpose=old.purpose)
    crashpoint.reached("rotate:on-token")  # crash tests: the new version exists, the database does not know it
    try:
        with vault.store.atomic():
            new = vault.store.rotate_key(
                old.id,
                new_label,
                cka_id=key.key_id,
                fingerprint=key.fingerprint,
                token_serial=session.token.serial,
                actor=actor,
                ceremony_id=ceremony_id,
                backup=old.backup,
                no_backup_reason=old.no_backup_reason,
            )
            vault.ledger.append(
                "key.rotated",
                {"previous": _key_details(vault.store.get_key(old.id)), "new": _key_details(new)},
                actor=actor,
                ceremony_id=ceremony_id,
            )
    except BaseException:
        destroy_quietly(session, key)
        raise
    return vault.store.get_key(old.id), new


# --- state changes without the HSM -------------------------------------------------------------
def change_key_state(
    vault: Vault, label: str, new_state: KeyState, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR
) -> KeyRecord:
    """Suspend, reactivate or deactivate a key (any allowed SP 800-57 transition but destruction)."""
    new_state = KeyState(new_state)
    if new_state in DESTROYED_STATES:
        raise TransitionRefused(
            f"Destroying {label!r} removes it from the HSM.", next_step="Use the destroy ceremony."
        )
    reason = require_reason(reason, f"Changing the state of {label!r}")
    record = _key_row(vault, label)
    _check_transition(record, new_state)
    with vault.store.atomic():
        updated = vault.store.transition_key(record.id, new_state, actor=actor, ceremony_id=ceremony_id, reason=reason)
        vault.ledger.append(
            f"key.{new_state.value}",
            {"label": record.label, "name": record.name, "version": record.version,
             "fingerprint": record.fingerprint, "from_state": record.state.value,
             "to_state": new_state.value, "reason": reason},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    return updated


def compromise_key(
    vault: Vault, label: str, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR
) -> KeyRecord:
    """Mark a key (a pair: both halves, one record) compromised, with the reason and the time.

    A key already destroyed becomes destroyed-compromised.
    """
    reason = require_reason(reason, f"Marking {label!r} compromised")
    record = _key_row(vault, label)
    target = KeyState.DESTROYED_COMPROMISED if record.state is KeyState.DESTROYED else KeyState.COMPROMISED
    _check_transition(record, target)
    with vault.store.atomic():
        updated = vault.store.transition_key(record.id, target, actor=actor, ceremony_id=ceremony_id, reason=reason)
        vault.ledger.append(
            "key.compromised",
            {"label": record.label, "name": record.name, "version": record.version,
             "fingerprint": record.fingerprint, "algorithm": record.algorithm.value,
             "from_state": record.state.value, "to_state": target.value, "reason": reason,
             "at": updated.entered_at(target)},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    return updated


def _check_transition(record: KeyRecord, new_state: KeyState) -> None:
    if not transition_allowed(record.state, new_state):
        allowed = ", ".join(s.value for s in allowed_next_states(record.state)) or "none (final state)"
        raise TransitionRefused(
            f"Key {record.label!r} cannot go from {record.state.value} to {new_state.value}.",
            next_step=f"From {record.state.value} a key may go to: {allowed}.",
        )


# --- destruction -------------------------------------------------------------------------------
def destroy_key(
    vault: Vault,
    session: HsmSession,
    label: str,
    *,
    reason: str = "destroyed by a destroy ceremony",
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> DestructionRecord:
    """Destroy a key on the HSM, confirm it is gone, keep the tombstone, list the backups holding it.

    Allowed from pre-activation or deactivated (-> destroyed) and compromised
    (-> destroyed-compromised); an active or suspended key must be deactivated first.
    """
    reason = require_reason(reason, f"Destroying {label!r}")
    record = _key_row(vault, label)
    target = KeyState.DESTROYED_COMPROMISED if record.state is KeyState.COMPROMISED else KeyState.DESTROYED
    _check_transition(record, target)
    key = token_key(session, record)
    holding = tuple(vault.store.backups_holding(record.id))
    with vault.store.atomic():
        updated = vault.store.transition_key(record.id, target, actor=actor, ceremony_id=ceremony_id, reason=reason)
        vault.ledger.append(
            "key.destroyed",
            {
                "label": record.label,
                "name": record.name,
                "version": record.version,
                "cka_id": record.cka_id,
                "fingerprint": record.fingerprint,
                "algorithm": record.algorithm.value,
                "from_state": record.state.value,
                "to_state": target.value,
                "token_serial": session.token.serial,
                "reason": reason,
                "backups_holding": [{"id": b.id, "path": b.path, "sha256": b.sha256} for b in holding],
            },
            actor=actor,
            ceremony_id=ceremony_id,
        )
        # Last, inside the transaction: if the token refuses or the key survives, nothing commits.
        session.destroy(key)
        crashpoint.reached("destroy:gone")  # crash tests: gone from the token, the tombstone not committed
        try:
            session.get_key(record.label)
        except KeyNotFound:
            pass
        else:
            raise HsmCheckFailed(f"Key {record.label!r} is still on the token after destruction.")
    return DestructionRecord(updated, record.state, holding)
