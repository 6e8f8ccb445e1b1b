"""Write a backup bundle of every backed-up key, prove it restores, record it.

Order (nothing half-applied): read the public keys of the pairs from the token and check them
against the database; import the KEK as a session object; wrap every key in one pass; stream
the bundle (written once, atomically, never over an existing file, read back and verified
byte for byte); test-unwrap every blob of the bundle into scratch session objects, each
checked against the recorded fingerprint and destroyed by handle; record the backup and its
keys with the ledger event in one transaction. If anything after publishing fails, the new
bundle file is removed again. The session KEK is destroyed in every case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vault.backup.format import FORMAT_VERSION, BundleHeader, BundleWriter, KeyEntry, kek_check_value
from vault.errors import HsmCheckFailed, VaultError
from vault.hsm import HsmSession, KeyObject
from vault.hsm.software import spki_fingerprint
from vault.operations._common import ACTOR, pem_to_der, refuse_existing
from vault.operations.bundles import open_verified, test_unwrap
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


def record_key(record: KeyRecord) -> KeyObject:
    """The KeyObject the token should hold for ``record`` (found by label and CKA_ID)."""
    pair = record.algorithm.is_key_pair
    return KeyObject(record.label, record.cka_id, record.algorithm, record.fingerprint, True, True, pair)


def _public_keys(session: HsmSession, objects: list[KeyObject]) -> dict[str, str]:
    """label -> PEM of every pair, from one pass over the token, checked against the database."""
    pems = session.public_keys_pem(objects)
    for key in objects:
        if key.algorithm.is_key_pair and spki_fingerprint(pem_to_der(pems[key.label])) != key.fingerprint:
            raise HsmCheckFailed(
                f"The public key of {key.label!r} on token {session.token.describe()} is not the one the vault "
                f"recorded ({key.fingerprint}).",
                next_step="Run `custodian reconcile` to compare the token with the database.",
            )
    return pems


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
    objects = [record_key(r) for r in records]
    pems = _public_keys(session, objects)
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
            items = []  # (key, blob, public DER): the blobs are the bundle's own bytes
            with writer:
                for record, (key, blob) in zip(records, session.wrap_many(wkey, objects), strict=True):
                    items.append((key, blob, pem_to_der(pems.get(key.label))))
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
                # The writer read the file back (MAC and SHA-256 of every byte written), so these
                # blobs are exactly the bundle's: each must restore, checked against the database's
                # fingerprint (KCV for AES; SPKI fingerprint and a signature for pairs).
                tested = test_unwrap(session, wkey, items)
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
