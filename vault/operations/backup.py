"""Write a backup bundle of every backed-up key, prove it restores, record it.

Order (nothing half-applied): check the keys on the token against the database; import the
KEK as a session object; wrap every key in one pass; stream the bundle (written once,
atomically, never over an existing file, read back); test-unwrap every blob *from the file
on disk* into scratch session objects and compare fingerprints; record the backup and its
keys with the ledger event in one transaction. If anything after publishing fails, the new
bundle file is removed again. The session KEK is destroyed in every case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vault.backup.format import FORMAT_VERSION, BundleHeader, BundleWriter, KeyEntry, kek_check_value
from vault.errors import HsmCheckFailed, KeyNotFound, VaultError
from vault.hsm import HsmSession, KeyObject
from vault.operations._common import ACTOR, refuse_existing
from vault.operations.bundles import entry_item, open_verified, test_unwrap
from vault.operations.keys import BACKED_UP_STATES
from vault.operations.quorum import ActiveQuorum
from vault.store.records import BackupDecision, BackupRecord, KeyRecord, NewBackup

NO_CEREMONY = "outside-a-ceremony"


@dataclass(frozen=True, slots=True)
class BackupResult:
    backup: BackupRecord
    path: str
    sha256: str
    size: int
    key_count: int
    kek_check_value: str
    share_set_id: int
    keys_test_unwrapped: int


def keys_to_back_up(vault) -> list[KeyRecord]:
    """Every key a backup holds: backed-up decision, not destroyed or compromised."""
    return [
        r for r in vault.store.list_keys() if r.state in BACKED_UP_STATES and r.backup is BackupDecision.BACKED_UP
    ]


def _token_objects(session: HsmSession, records: list[KeyRecord]) -> list[KeyObject]:
    """The token's object of each record (one pass over the token), checked against the database."""
    on_token = {(k.label, k.key_id): k for k in session.list_keys()}
    missing = [r.label for r in records if (r.label, r.cka_id) not in on_token]
    if missing:
        shown = ", ".join(repr(label) for label in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise KeyNotFound(
            f"{len(missing)} keys to back up are not on token {session.token.describe()}: {shown}.",
            next_step="Run `custodian reconcile` to compare the token with the database.",
        )
    objects = []
    for record in records:
        key = on_token[(record.label, record.cka_id)]
        if key.fingerprint != record.fingerprint:
            raise HsmCheckFailed(
                f"Key {record.label!r} on the token has fingerprint {key.fingerprint or 'none'}, "
                f"the vault recorded {record.fingerprint}."
            )
        objects.append(key)
    return objects


def write_backup(
    vault,
    session: HsmSession,
    quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    event: str = "backup.written",
) -> BackupResult:
    """Back up every backed-up key (active, suspended, deactivated, pre-activation) to ``path``."""
    path = Path(path)
    refuse_existing(path)
    records = keys_to_back_up(vault)
    objects = _token_objects(session, records)
    pems = session.public_keys_pem(objects)  # one pass over the token's public keys
    kek, mac_key = quorum.kek(), quorum.mac_key()
    try:
        kcv = kek_check_value(kek)
        header = BundleHeader.create(
            ceremony_id=ceremony_id or NO_CEREMONY,
            share_set_id=quorum.share_set_id,
            slip39_identifier=quorum.identifier,
            kek_check_value=kcv,
            key_count=len(records),
            mode=vault.mode,
        )
        wkey = session.import_wrapping_key(kek)
        try:
            writer = BundleWriter(path, header, mac_key)
            with writer:
                for record, (key, blob) in zip(records, session.wrap_many(wkey, objects)):
                    writer.add(
                        KeyEntry(
                            label=record.label,
                            cka_id=record.cka_id,
                            algorithm=record.algorithm,
                            version=record.version,
                            state=record.state,
                            fingerprint=record.fingerprint,
                            public_key_pem=pems.get(key.label),
                            wrapped=blob,
                        )
                    )
            written = writer.result
            assert written is not None
            inode = os.stat(path).st_ino
            try:
                # From the file on disk, not from memory: what was written is what must restore.
                verified = open_verified(path, quorum, mac_key)
                tested = test_unwrap(session, wkey, map(entry_item, verified))
                with vault.store.atomic():
                    backup = vault.store.record_backup(
                        NewBackup(
                            path=str(path.resolve()),
                            sha256=written.sha256,
                            format_version=FORMAT_VERSION,
                            share_set_id=quorum.share_set_id,
                            kek_check_value=kcv,
                            ceremony_id=ceremony_id,
                        ),
                        [(r.id, r.fingerprint) for r in records],
                    )
                    vault.ledger.append(
                        event,
                        {
                            "backup_id": backup.id,
                            "path": backup.path,
                            "sha256": written.sha256,
                            "size": written.size,
                            "key_count": written.key_count,
                            "keys_test_unwrapped": tested,
                            "share_set_id": quorum.share_set_id,
                            "slip39_identifier": quorum.identifier,
                            "kek_check_value": kcv,
                            "format_version": FORMAT_VERSION,
                        },
                        actor=actor,
                        ceremony_id=ceremony_id,
                    )
            except BaseException:
                _remove_if_ours(path, inode)
                raise
        finally:
            _destroy_kek(session, wkey)
    finally:
        kek.wipe()
        mac_key.wipe()
    return BackupResult(backup, backup.path, written.sha256, written.size, written.key_count, kcv,
                        quorum.share_set_id, tested)  # fmt: skip


def _destroy_kek(session: HsmSession, wkey) -> None:
    try:
        session.destroy_wrapping_key(wkey)
    except VaultError:
        pass  # a session object: it is gone when the session closes at the latest


def _remove_if_ours(path: Path, inode: int) -> None:
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


@dataclass(frozen=True, slots=True)
class BackupCheck:
    path: str
    sha256: str
    key_count: int
    share_set_id: int
    kek_check_value: str
    labels: tuple[str, ...]


def verify_backup(path: Path, quorum: ActiveQuorum) -> BackupCheck:
    """Check a bundle without the HSM: every line, the MAC, and that the quorum's KEK wrote it."""
    with quorum.mac_key() as mac_key:
        verified = open_verified(Path(path), quorum, mac_key)
        labels = tuple(entry.label for entry in verified)
    header = verified.header
    return BackupCheck(str(path), verified.sha256, header.key_count, header.share_set_id, header.kek_check_value, labels)
