"""Reshare: a new quorum secret takes over the token and the backups; the old share set is retired.

The ceremony makes the new QS, splits it and has every new share verified back; then
``reshare`` switches, in an order where a failure at any point leaves the OLD state working
(old shares activate, the token takes the old PINs, every key is where it was) and success
leaves the NEW one (new shares activate, the token takes only the new PINs, every key is in a
new bundle under the new KEK, the old set retired so that its shares are refused as retired):

1. T1 (committed): the new set recorded as *pending* (its holders verified) and the marker
   setting ``reshare.pending`` naming both sets. Failure → OLD, nothing recorded.
2. T2 begins. A bundle of every key under the new KEK, written through a session logged in
   with the OLD user PIN (published once, read back, test-unwrapped).
3. The token's PINs re-keyed (C_SetPIN for the SO PIN, C_InitPIN for the user PIN), proven
   by logging in with the new user PIN and seeing every key.
4. The backup row, the new set activated (the old one retired), the marker cleared and
   ``quorum.reshared`` (``token_pins_rekeyed: true``); T2 commits. → NEW.

A failure (an exception) in 2-4 rolls T2 back, puts the old PINs back if 3 had run, removes
the new bundle file and retires the pending set as abandoned (``reshare.abandoned``): OLD.

A crash (power loss) between 3 and the commit of 4 is the one window where the token and the
database disagree: the token may have the new PINs while the database still has the old set
active. The marker survives it; the next quorum activation accepts the shares of either set
and ``resolve_interrupted_reshare`` decides by logging in: the new set's PIN works → the
switch is completed (NEW, but with no bundle under the new KEK yet: run a backup); the old
set's PIN works → the pending set is abandoned (OLD).

Bundles written under the old KEK still open with the old shares offline (break glass);
destroy those copies once the new backup is drilled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import HsmCheckFailed, PinIncorrect, ShareRetired, StoreError, VaultError
from vault.hsm import HsmSession
from vault.operations._common import ACTOR, refuse_existing, require_reason
from vault.operations.backup import BackupResult, write_backup
from vault.operations.quorum import ActiveQuorum, open_token_session
from vault.operations.token import PINS_QUORUM, SETTING_PINS, SETTING_SERIAL, prove_token_pins
from vault.secret import Secret
from vault.store.records import ShareSetRecord, ShareSetStatus

if TYPE_CHECKING:
    from vault.vault import Vault


def rebackup_all(
    vault: Vault,
    session: HsmSession,
    new_quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    pins: ActiveQuorum | None = None,
) -> BackupResult:
    """A backup of every backed-up key under the KEK of ``new_quorum`` (a pending or active set).
    ``pins``: the quorum whose PINs the token has, if not ``new_quorum`` (trusted wrapping asks
    the SO to make the KEK)."""
    current = vault.store.get_share_set(new_quorum.share_set_id)
    if current.status is ShareSetStatus.RETIRED:
        raise ShareRetired(f"Share set {current.name!r} is retired; a re-backup goes under the new share set.")
    return write_backup(vault, session, new_quorum, path, ceremony_id=ceremony_id, actor=actor, event="backup.rebackup",
                        pins=pins)


def retire_share_set(
    vault: Vault, share_set_id: int, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR
) -> ShareSetRecord:
    """Retire a share set (its shares then open nothing new), with the reason in the ledger.

    Refused while the set is the only one able to open the vault's latest backup: a newer
    backup under another share set must exist first.
    """
    reason = require_reason(reason, "Retiring a share set")
    target = vault.store.get_share_set(share_set_id)
    latest = vault.store.latest_backup()
    if latest is not None and latest.share_set_id == share_set_id:
        raise StoreError(
            f"The latest backup (id {latest.id}) was written under share set {target.name!r}; retiring it now would "
            "leave no backup that the active shares open.",
            next_step="Re-back-up every key under the new share set first (rebackup_all).",
        )
    with vault.store.atomic():
        retired = vault.store.retire_share_set(share_set_id)
        vault.ledger.append(
            "share_set.retired",
            {"share_set_id": retired.id, "share_set": retired.name, "identifier": retired.identifier,
             "policy": retired.describe(), "reason": reason},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    return retired


MARKER = "reshare.pending"  # JSON while a reshare switches the token; "" otherwise


@dataclass(frozen=True, slots=True)
class ReshareResult:
    backup: BackupResult
    share_set: ShareSetRecord  # the new, active set
    retired: ShareSetRecord | None  # the set it replaced
    token_pins_rekeyed: bool = True

    @property
    def sha256(self) -> str:
        return self.backup.sha256


@dataclass(frozen=True, slots=True)
class InterruptedReshare:
    ceremony_id: str | None
    old_share_set: ShareSetRecord
    new_share_set: ShareSetRecord
    bundle_path: str
    started_at: str


def interrupted(vault: Vault) -> InterruptedReshare | None:
    """The reshare whose switch was cut off (the marker is set), if any."""
    raw = vault.store.get_setting(MARKER)
    if not raw:
        return None
    data = json.loads(raw)
    return InterruptedReshare(data["ceremony_id"], vault.store.get_share_set(data["old_share_set_id"]),
                              vault.store.get_share_set(data["new_share_set_id"]), data["bundle_path"],
                              data["started_at"])  # fmt: skip


def _noop(point: str) -> None:
    return None


def reshare(
    vault: Vault,
    quorum: ActiveQuorum,
    new_qs: Secret,
    path: Path,
    *,
    record_pending: Callable[[], ShareSetRecord],
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    checkpoint: Callable[[str], None] = _noop,
) -> ReshareResult:
    """Switch the vault from ``quorum`` to ``new_qs`` (module doc: order, failures, crash window).

    ``record_pending()`` records the new share set as pending (with its verified holders) and
    returns it. ``checkpoint(point)`` is called at "pending-recorded", "bundle-written" and
    "pins-rekeyed" (tests simulate a power loss there).
    """
    path = Path(path)
    refuse_existing(path)
    store = vault.store
    old = store.get_share_set(quorum.share_set_id)
    if old.status is not ShareSetStatus.ACTIVE:
        raise ShareRetired(f"Share set {old.name!r} is {old.status.value}; only the active set can reshare.")
    if interrupted(vault) is not None:
        raise StoreError("An earlier reshare was interrupted and is not resolved yet.",
                         next_step="Activate the quorum once (any ceremony) to resolve it, then reshare.")
    serial = store.get_setting(SETTING_SERIAL)
    with store.atomic():  # T1
        new_set = record_pending()
        store.set_setting(MARKER, json.dumps({
            "ceremony_id": ceremony_id, "old_share_set_id": old.id, "new_share_set_id": new_set.id,
            "bundle_path": str(path.resolve()), "started_at": store.now()}, sort_keys=True))
        vault.ledger.append("reshare.prepared", {"share_set_id": new_set.id, "share_set": new_set.name,
                                                 "policy": new_set.describe(), "replaces": old.name,
                                                 "bundle_path": str(path.resolve())},
                            actor=actor, ceremony_id=ceremony_id)  # fmt: skip
    checkpoint("pending-recorded")
    new_quorum = ActiveQuorum(Secret(new_qs.reveal(), "quorum-secret"), new_set, pin_max_len=quorum.pin_max_len)
    module = vault.hsm()
    rekeyed = False
    inode = None
    try:
        with store.atomic():  # T2
            with open_token_session(vault, quorum, ceremony_id=ceremony_id) as session:
                backup = write_backup(vault, session, new_quorum, path, ceremony_id=ceremony_id, actor=actor,
                                      event="backup.rebackup", pins=quorum)  # the token has the old PINs yet
            inode = os.stat(path).st_ino
            checkpoint("bundle-written")
            from vault.operations.hsm_procedure import is_procedure

            procedure = is_procedure(vault)  # the token keeps the PINs its vendor's procedure set: not re-keyed
            if procedure:
                visible = _token_key_count(vault, serial)
            else:
                with quorum.so_pin() as so_old, new_quorum.so_pin() as so_new, new_quorum.user_pin() as user_new:
                    # a failure inside set_pins leaves the old PINs (it puts the SO PIN back itself)
                    module.set_pins(_serial(serial), so_pin_old=so_old, so_pin_new=so_new, user_pin_new=user_new)
                rekeyed = True
                checkpoint("pins-rekeyed")
                visible = prove_token_pins(vault, serial, new_quorum, ceremony_id=ceremony_id, actor=actor)
            if visible != _token_key_count(vault, serial):
                raise HsmCheckFailed(f"After the re-key the token shows {visible} keys; the vault recorded "
                                     f"{_token_key_count(vault, serial)} on it.")  # fmt: skip
            new_set = store.activate_share_set(new_set.id)
            store.set_setting(MARKER, "")
            retired = store.get_share_set(old.id)
            vault.ledger.append(
                "quorum.reshared",
                {"share_set_id": new_set.id, "share_set": new_set.name, "policy": new_set.describe(),
                 "retired_share_set_id": old.id, "retired_share_set": old.name, "retired_at": retired.retired_at,
                 "backup_id": backup.backup.id, "backup_sha256": backup.sha256, "keys": backup.key_count,
                 "token_serial": serial, "token_pins_rekeyed": not procedure,
                 **({"token_pins_reason": "pin_policy hsm-procedure: the token keeps the PINs its vendor's "
                                          "procedure set"} if procedure else {})},
                actor=actor,
                ceremony_id=ceremony_id,
            )  # fmt: skip
    except Exception as exc:
        _roll_back(vault, quorum, new_quorum, serial, rekeyed, path, inode, new_set, exc, ceremony_id, actor)
        raise
    finally:
        new_quorum.wipe()
    return ReshareResult(backup, new_set, retired, not procedure)


def _token_key_count(vault: Vault, serial: str) -> int:
    """Objects the database expects on the token: every recorded key on it not destroyed."""
    from vault.operations.keys import DESTROYED_STATES

    return sum(1 for k in vault.store.list_keys() if k.token_serial == serial and k.state not in DESTROYED_STATES)


def _roll_back(vault: Vault, quorum, new_quorum, serial, rekeyed, path, inode, new_set, exc, ceremony_id, actor) -> None:
    """Back to the OLD state after a failure in steps 2-4 (T2 itself was rolled back by SQLite)."""
    if rekeyed:
        try:
            with new_quorum.so_pin() as so_new, quorum.so_pin() as so_old, quorum.user_pin() as user_old:
                vault.hsm().set_pins(_serial(serial), so_pin_old=so_new, so_pin_new=so_old, user_pin_new=user_old)
        except VaultError:
            # The token keeps the new PINs: leave the marker, so the next quorum activation
            # (with the new shares) completes the switch instead.
            return
    if inode is not None:
        try:
            if os.stat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass
    with vault.store.atomic():
        vault.store.retire_share_set(new_set.id)
        vault.store.set_setting(MARKER, "")
        vault.ledger.append("reshare.abandoned", {
            "share_set_id": new_set.id, "share_set": new_set.name, "token_pins_restored": rekeyed,
            "error_code": getattr(exc, "code", type(exc).__name__)}, actor=actor, ceremony_id=ceremony_id)


def _serial(serial: str):
    from vault.types import TokenSelector

    return TokenSelector(serial=serial)


def resolve_interrupted_reshare(vault: Vault, quorum: ActiveQuorum, *, ceremony_id: str | None = None,
                                actor: str = ACTOR) -> str | None:
    """After a crash in a reshare's switch: decide by a login which state the token is in.

    ``quorum`` is of the old (active) set or of the new (pending) one. Its user PIN opening
    the token decides: the new set's → the switch happened, complete it; the old set's → it
    did not, abandon the pending set. Returns what was done (None: nothing was interrupted).
    Raises PinIncorrect naming the other set when the token refuses this set's PIN.

    Under pin_policy "hsm-procedure" the reshare never re-keys the token (its PINs are its vendor's),
    so the login decides nothing: the set whose shares were entered does (both were verified by
    their holders), and a refused login is the PIN holder's to fix, never the shares' (the quorum
    step then stops the ceremony instead of asking for shares again).
    """
    pending = interrupted(vault)
    if pending is None:
        return None
    serial = vault.store.get_setting(SETTING_SERIAL)
    is_new = quorum.share_set_id == pending.new_share_set.id
    from vault.operations.hsm_procedure import is_procedure

    procedure = is_procedure(vault)
    try:
        with open_token_session(vault, quorum, ceremony_id=ceremony_id) as session:
            visible = len(session.list_keys())
    except PinIncorrect as exc:
        if procedure:
            # The PIN is its holder's (pin_policy hsm-procedure), the same whichever set's shares were
            # entered: the shares are not the problem, and other shares would meet the same refusal.
            raise PinIncorrect(
                f"{exc.message} The reshare interrupted at {pending.started_at} stays unresolved until a login "
                "works (the shares entered are not the problem).",
                next_step="Check the HSM user PIN with its holder, then run the ceremony again.") from None  # fmt: skip
        other = pending.old_share_set if is_new else pending.new_share_set
        raise PinIncorrect(
            f"The token refuses the PIN of share set {quorum.share_set.name!r}: the reshare interrupted at "
            f"{pending.started_at} had {'not ' if is_new else ''}re-keyed it.",
            next_step=f"Enter the shares of share set {other.name!r} instead.",
        ) from None
    store = vault.store
    with store.atomic():
        store.set_setting(MARKER, "")
        if is_new:
            store.activate_share_set(pending.new_share_set.id)
            if not procedure:  # under hsm-procedure the token keeps the PINs its vendor's procedure set
                store.set_setting(SETTING_PINS, PINS_QUORUM)
            vault.ledger.append("quorum.reshared", {
                "share_set_id": pending.new_share_set.id, "share_set": pending.new_share_set.name,
                "retired_share_set_id": pending.old_share_set.id, "retired_share_set": pending.old_share_set.name,
                "token_serial": serial, "token_pins_rekeyed": not procedure, "completed_after_interruption": True,
                "interrupted_ceremony": pending.ceremony_id, "keys_visible": visible, "backup_id": None,
                **({"token_pins_reason": "pin_policy hsm-procedure: the token keeps the PINs its vendor's "
                                         "procedure set; the shares entered decided"} if procedure else {})},
                actor=actor, ceremony_id=ceremony_id)  # fmt: skip
            how = ("The new set's shares were entered (pin_policy hsm-procedure: the token's PINs are its "
                   "vendor's, so the shares decide)" if procedure else "The interrupted reshare had re-keyed the token")
            return (f"{how}: share set {pending.new_share_set.name!r} is "
                    f"now active and {pending.old_share_set.name!r} retired. No bundle under the new backup key "
                    "is recorded: run a backup ceremony now.")
        store.retire_share_set(pending.new_share_set.id)
        vault.ledger.append("reshare.abandoned", {
            "share_set_id": pending.new_share_set.id, "share_set": pending.new_share_set.name,
            "token_pins_restored": False, "error_code": "INTERRUPTED", "interrupted_ceremony": pending.ceremony_id},
            actor=actor, ceremony_id=ceremony_id)  # fmt: skip
    how = ("The old set's shares were entered (pin_policy hsm-procedure: the token's PINs are its vendor's, so "
           "the shares decide)" if procedure else "The interrupted reshare had not re-keyed the token")
    return (f"{how}: share set {pending.old_share_set.name!r} stays "
            f"active and the pending set {pending.new_share_set.name!r} was abandoned (its shares open nothing).")
