"""Reshare support: re-back-up every key under the new quorum's KEK, then retire the old share set.

A reshare makes a new QS and a new share set (vault.shares, in the ceremony). ``reshare``
commits that set and writes a bundle of every key under its KEK as one all-or-nothing step:
the commit (which activates the new set and retires the old one) and the backup's rows share
one transaction, and a failed backup removes its file and rolls the commit back. After it the
old shares open nothing new through the console (``quorum.activate`` refuses a retired set).

Not done here, because vault.hsm has no C_SetPIN yet: re-keying the token's user and SO PINs
to the new QS's derivations. Until it is, the old QS still derives the token PIN. Bundles
written under the old KEK still open with the old shares; destroy those copies once the new
backup is drilled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vault.errors import ShareRetired, StoreError
from vault.hsm import HsmSession
from vault.operations._common import ACTOR, require_reason
from vault.operations.backup import BackupResult, write_backup
from vault.operations.quorum import ActiveQuorum, open_token_session
from vault.secret import Secret
from vault.store.records import ShareSetRecord, ShareSetStatus


def rebackup_all(
    vault,
    session: HsmSession,
    new_quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> BackupResult:
    """A backup of every backed-up key under the KEK of ``new_quorum`` (a pending or active set)."""
    current = vault.store.get_share_set(new_quorum.share_set_id)
    if current.status is ShareSetStatus.RETIRED:
        raise ShareRetired(f"Share set {current.name!r} is retired; a re-backup goes under the new share set.")
    return write_backup(vault, session, new_quorum, path, ceremony_id=ceremony_id, actor=actor, event="backup.rebackup")


def retire_share_set(
    vault, share_set_id: int, *, reason: str, ceremony_id: str | None = None, actor: str = ACTOR
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


@dataclass(frozen=True, slots=True)
class ReshareResult:
    backup: BackupResult
    share_set: ShareSetRecord  # the new, active set
    retired: ShareSetRecord | None  # the set it replaced

    @property
    def sha256(self) -> str:
        return self.backup.sha256


def reshare(
    vault,
    quorum: ActiveQuorum,
    new_qs: Secret,
    path: Path,
    *,
    commit: Callable[[], ShareSetRecord],
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> ReshareResult:
    """Commit the new share set (``commit()`` records and activates it) and back every key up
    under its KEK, all or nothing. The token session is opened with the current ``quorum``."""
    old = vault.store.get_share_set(quorum.share_set_id)
    with open_token_session(vault, quorum) as session, vault.store.atomic():
        new_set = commit()
        new_quorum = ActiveQuorum(Secret(new_qs.reveal(), "quorum-secret"), new_set)
        try:
            backup = write_backup(vault, session, new_quorum, path, ceremony_id=ceremony_id, actor=actor,
                                  event="backup.rebackup")  # fmt: skip
        finally:
            new_quorum.wipe()
        retired = vault.store.get_share_set(old.id)
        vault.ledger.append(
            "quorum.reshared",
            {"share_set_id": new_set.id, "share_set": new_set.name, "policy": new_set.describe(),
             "retired_share_set_id": old.id, "retired_share_set": old.name, "retired_status": retired.status.value,
             "backup_id": backup.backup.id, "backup_sha256": backup.sha256, "keys": backup.key_count,
             "token_pins_rekeyed": False},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    return ReshareResult(backup, vault.store.get_share_set(new_set.id), retired)
