"""Reshare support: re-back-up every key under the new quorum's KEK, then retire the old share set.

A reshare makes a new QS and a new share set (vault.shares, in the ceremony); these two steps
make the old shares open nothing new: every key is in a bundle under the new KEK, and the old
set is retired (``quorum.activate`` refuses a retired set). Bundles written under the old KEK
still open with the old shares; destroy those copies after the new backup is drilled.
"""

from __future__ import annotations

from pathlib import Path

from vault.errors import ShareRetired, StoreError
from vault.hsm import HsmSession
from vault.operations._common import ACTOR, require_reason
from vault.operations.backup import BackupResult, write_backup
from vault.operations.quorum import ActiveQuorum
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
