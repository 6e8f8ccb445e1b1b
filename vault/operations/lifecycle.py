"""The rest of the NIST SP 800-57 lifecycle: activate (at a date), suspend, reactivate,
deactivate without a successor, revoke with a KMIP reason, destroy from any live state.

Rules, as the engine enforces them (the schema's transition trigger is the backstop):

* activate: pre-activation -> active, refused before the key's activation date;
* suspend: active -> suspended; reactivate: suspended -> active, refused after the end of the
  cryptoperiod (an expired key protects nothing new: rotate or deactivate it);
* deactivate: active or suspended -> deactivated, with no successor (rotation is the other way);
* revoke (KMIP): a compromise reason (key-compromise, ca-compromise) -> compromised from any live
  state; any other reason -> deactivated (from active or suspended), the reason recorded on the
  key; a signed revocation statement can be written (vault.operations.revocation);
* destroy: any state but destroyed ones; an active or suspended key is first deactivated, in the
  same ceremony, then destroyed (vault.operations.keys.destroy_key).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from vault.errors import KeyExpired, NotYetActive, TransitionRefused
from vault.operations._common import ACTOR, require_reason
from vault.operations.keys import DESTROYED_STATES, _check_transition, destroy_key, resolve_key
from vault.store.clock import iso
from vault.store.records import KeyRecord
from vault.types import KeyState, RevocationReason

if TYPE_CHECKING:
    from vault.vault import Vault


def _now(vault: Vault, now: datetime | str | None) -> str:
    if isinstance(now, str):
        return now
    return iso(now) if now is not None else vault.store.now()


def _move(vault: Vault, record: KeyRecord, new_state: KeyState, *, reason: str, ceremony_id, actor, action: str,
          revocation: RevocationReason | None = None, details: dict | None = None) -> KeyRecord:
    _check_transition(record, new_state)
    with vault.store.atomic():
        updated = vault.store.transition_key(record.id, new_state, actor=actor, ceremony_id=ceremony_id,
                                             reason=reason, revocation=revocation)
        vault.ledger.append(action, {
            "key": record.ref, "label": record.label, "fingerprint": record.fingerprint,
            "from_state": record.state.value, "to_state": new_state.value, "reason": reason,
            "expires_at": updated.expires_at, **(details or {}),
        }, actor=actor, ceremony_id=ceremony_id)
    return updated


def activate_key(vault: Vault, ref: str, *, reason: str = "activated by an activate ceremony", now: datetime | None = None,
                 ceremony_id: str | None = None, actor: str = ACTOR) -> KeyRecord:
    """pre-activation -> active, on or after the key's activation date; its cryptoperiod starts."""
    record = resolve_key(vault, ref)
    if record.state is not KeyState.PRE_ACTIVATION:
        raise TransitionRefused(f"Key {record.ref} is {record.state.value}; only a pre-activation key is activated.",
                                next_step="Reactivate a suspended key with the reactivate ceremony.")
    moment = _now(vault, now)
    if record.activate_after and moment < record.activate_after:
        raise NotYetActive(f"Key {record.ref} may be activated from {record.activate_after}, not at {moment}.")
    return _move(vault, record, KeyState.ACTIVE, reason=require_reason(reason, "Activation"),
                 ceremony_id=ceremony_id, actor=actor, action="key.activated",
                 details={"activate_after": record.activate_after})


def suspend_key(vault: Vault, ref: str, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR) -> KeyRecord:
    record = resolve_key(vault, ref)
    return _move(vault, record, KeyState.SUSPENDED, reason=require_reason(reason, f"Suspending {record.ref}"),
                 ceremony_id=ceremony_id, actor=actor, action="key.suspended")


def reactivate_key(vault: Vault, ref: str, *, reason: str, now: datetime | None = None, ceremony_id: str | None = None,
                   actor: str = ACTOR) -> KeyRecord:
    record = resolve_key(vault, ref)
    if record.state is not KeyState.SUSPENDED:
        raise TransitionRefused(f"Key {record.ref} is {record.state.value}; only a suspended key is reactivated.")
    if record.expires_at and _now(vault, now) >= record.expires_at:
        raise KeyExpired(f"Key {record.ref}'s cryptoperiod ended at {record.expires_at}; it cannot protect "
                         "anything new.", next_step="Rotate it (its successor is active) or deactivate it.")
    return _move(vault, record, KeyState.ACTIVE, reason=require_reason(reason, f"Reactivating {record.ref}"),
                 ceremony_id=ceremony_id, actor=actor, action="key.reactivated")


def deactivate_key(vault: Vault, ref: str, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR) -> KeyRecord:
    """active or suspended -> deactivated, no successor: it still verifies or decrypts what it protected."""
    record = resolve_key(vault, ref)
    return _move(vault, record, KeyState.DEACTIVATED, reason=require_reason(reason, f"Deactivating {record.ref}"),
                 ceremony_id=ceremony_id, actor=actor, action="key.deactivated")


def revoke_target(record: KeyRecord, reason: RevocationReason) -> KeyState:
    """The state a revocation with ``reason`` moves ``record`` to (KMIP semantics)."""
    if RevocationReason(reason).compromise:
        return KeyState.DESTROYED_COMPROMISED if record.state is KeyState.DESTROYED else KeyState.COMPROMISED
    return KeyState.DEACTIVATED


def revoke_key(vault: Vault, ref: str, reason: RevocationReason | str, *, note: str, ceremony_id: str | None = None,
               actor: str = ACTOR) -> KeyRecord:
    """Revoke with a KMIP reason code; ``note`` says what happened (the ledger keeps both)."""
    try:
        reason = RevocationReason(reason)
    except ValueError:
        raise TransitionRefused(f"{reason!r} is not a revocation reason.",
                                next_step="Use one of: " + ", ".join(r.value for r in RevocationReason) + ".") from None
    record = resolve_key(vault, ref)
    target = revoke_target(record, reason)
    if not reason.compromise and record.state not in (KeyState.ACTIVE, KeyState.SUSPENDED):
        raise TransitionRefused(
            f"Key {record.ref} is {record.state.value}; a revocation for {reason.value} deactivates an active or "
            "suspended key.", next_step="Revoke for key-compromise if it was compromised, or destroy it.")
    return _move(vault, record, target, reason=f"revoked ({reason.value}): {require_reason(note, 'Revocation')}",
                 ceremony_id=ceremony_id, actor=actor, action="key.revoked", revocation=reason,
                 details={"revocation_reason": reason.value, "kmip_reason_code": reason.kmip_code})


def destroy_any_key(vault: Vault, session, ref: str, *, reason: str = "destroyed by a destroy ceremony",
                    ceremony_id: str | None = None, actor: str = ACTOR):
    """Destroy a key from any state but a destroyed one: active or suspended keys are deactivated
    first (recorded as its own transition), then destroyed. Returns the DestructionRecord."""
    record = resolve_key(vault, ref)
    if record.state in DESTROYED_STATES:
        raise TransitionRefused(f"Key {record.ref} is already {record.state.value}.")
    if record.state in (KeyState.ACTIVE, KeyState.SUSPENDED):
        from vault.operations.keys import token_key

        token_key(session, record)  # the key is on this token: check before changing anything
        deactivate_key(vault, record.ref, reason=f"deactivated before destruction: {reason}",
                       ceremony_id=ceremony_id, actor=actor)
    return destroy_key(vault, session, record.ref, reason=reason, ceremony_id=ceremony_id, actor=actor)
