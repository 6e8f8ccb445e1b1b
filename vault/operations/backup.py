"""Write a backup bundle of every backed-up key, prove it restores, record it.

Order (nothing half-applied): import the KEK as a session object; one pass over the token's
objects indexes them (vault.hsm ``wrap_with_public``); the database's keys are then read a page
at a time and, key by key, wrapped, the pair's public key read from the token and checked
against the database's fingerprint, and the entry streamed into the bundle (a temp file until
the end); every batch of blobs is test-unwrapped into scratch session objects, each checked
against the recorded fingerprint and destroyed by handle. Then the bundle is published
(written once, atomically, never over an existing file), read back and verified byte for byte,
so the blobs tested are exactly the bundle's. Finally the backup and its keys are recorded with
the ledger event in one transaction, after checking that the keys did not change meanwhile. If
anything after publishing fails, the new bundle file is removed again. The session KEK is
destroyed in every case. Memory does not grow with the number of keys beyond the token index
of vault.hsm (at most 32 bytes per token object).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import tee
from pathlib import Path
from typing import TYPE_CHECKING

from vault import crashpoint
from vault.backup.format import FORMAT_VERSION, BundleHeader, BundleWriter, KeyEntry, kek_check_value
from vault.backup.metadata import seal_records
from vault.errors import HsmCheckFailed, StoreError, VaultError
from vault.hsm import HsmSession, KeyObject, WrappingKey
from vault.hsm.software import spki_fingerprint, spki_to_pem
from vault.operations._common import ACTOR, refuse_existing
from vault.operations.bundles import TEST_UNWRAP_BATCH, open_verified
from vault.operations.keys import BACKED_UP_STATES
from vault.operations.quorum import ActiveQuorum
from vault.operations.rebuild_config import config_record
from vault.store.records import BackupDecision, BackupRecord, KeyRecord, NewBackup

if TYPE_CHECKING:
    from vault.vault import Vault

NO_CEREMONY = "outside-a-ceremony"
#: Key records read from the database per query.
KEY_PAGE = 256


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


def iter_keys_to_back_up(vault: Vault) -> Iterator[KeyRecord]:
    """Every key a backup holds (backed-up decision, not destroyed or compromised), a page at a time."""
    return vault.store.iter_keys(BACKED_UP_STATES, backup=BackupDecision.BACKED_UP, page=KEY_PAGE)


def keys_to_back_up(vault: Vault) -> list[KeyRecord]:
    """Every key a backup holds: backed-up decision, not destroyed or compromised."""
    return list(iter_keys_to_back_up(vault))


def record_key(record: KeyRecord) -> KeyObject:
    """The KeyObject the token should hold for ``record`` (found by label and CKA_ID)."""
    pair = record.algorithm.is_key_pair
    return KeyObject(record.label, record.cka_id, record.algorithm, record.fingerprint, True, True, pair,
                     record.purpose)


class _KeysDigest:
    """SHA-256 over what a backup took from each key record: the same keys read twice must agree."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.count = 0

    def feed(self, records: Iterator[KeyRecord]) -> Iterator[KeyRecord]:
        for r in records:
            self._sha.update(f"{r.id}\0{r.label}\0{r.cka_id}\0{r.fingerprint}\0{r.state.value}\0{r.version}\n".encode())
            self.count += 1
            yield r

    @property
    def value(self) -> str:
        return self._sha.hexdigest()


def _keys_changed() -> StoreError:
    return StoreError("The vault's keys changed while the backup was being written; nothing was recorded.",
                      next_step="Write the backup again.")  # fmt: skip


def _write_entries(
    session: HsmSession, wkey: WrappingKey, writer: BundleWriter, records: Iterator[KeyRecord], key_count: int
) -> int:
    """Wrap every record's key (one pass over the token), stream each entry into ``writer`` as
    it comes, and test-unwrap the blobs a batch at a time. Returns how many were tested."""
    tested, batch = 0, []
    to_wrap, to_write = tee(records)  # zip() below keeps them one record apart
    wrapped = session.wrap_with_public(wkey, map(record_key, to_wrap))
    for record, (key, blob, public_der) in zip(to_write, wrapped, strict=True):
        if writer.count >= key_count:
            raise _keys_changed()
        pem = None
        if key.algorithm.is_key_pair:
            assert public_der is not None
            if spki_fingerprint(public_der) != record.fingerprint:
                raise HsmCheckFailed(
                    f"The public key of {key.label!r} on token {session.token.describe()} is not the one the vault "
                    f"recorded ({record.fingerprint}).",
                    next_step="Run `custodian reconcile` to compare the token with the database.",
                )
            pem = spki_to_pem(public_der)
        writer.add(KeyEntry(label=record.label, cka_id=record.cka_id, algorithm=record.algorithm,
                            version=record.version, state=record.state, fingerprint=record.fingerprint,
                            public_key_pem=pem, wrapped=blob))  # fmt: skip
        # Checked against the database's fingerprint (KCV for AES; SPKI fingerprint and a
        # signature for pairs); the read-back after publishing proves the file holds these bytes.
        batch.append((key, blob, public_der))
        if len(batch) == TEST_UNWRAP_BATCH:
            tested += session.check_unwrap_many(wkey, batch)
            batch = []
    if batch:
        tested += session.check_unwrap_many(wkey, batch)
    if writer.count != key_count:
        raise _keys_changed()
    return tested


def _import_kek(session: HsmSession, kek, pins: ActiveQuorum):
    """The KEK as a session object: made trusted by the SO where the session has trusted wrapping
    (vault.hsm.trusted: backed-up keys then wrap under no other key), plain otherwise."""
    if not session.trusted_wrapping:
        return session.import_wrapping_key(kek)
    with pins.so_pin() as so_pin, pins.user_pin() as user_pin:
        return session.import_trusted_wrapping_key(kek, so_pin=so_pin, user_pin=user_pin)


def write_backup(
    vault: Vault,
    session: HsmSession,
    quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    event: str = "backup.written",
    pins: ActiveQuorum | None = None,
) -> BackupResult:
    """Back up every backed-up key (active, suspended, deactivated, pre-activation) to ``path``.

    ``pins``: the quorum whose PINs the token has, when it is not ``quorum`` (a reshare writes
    under the new KEK through the old PINs); used where the KEK must be made trusted by the SO."""
    path = Path(path)
    refuse_existing(path)
    store = vault.store
    key_count = store.count_keys(BACKED_UP_STATES, backup=BackupDecision.BACKED_UP)
    kek, mac_key, metadata_key = quorum.kek(), quorum.mac_key(), quorum.metadata_key()
    try:
        kcv = kek_check_value(kek)
        head = vault.ledger.head()
        header = BundleHeader.create(
            ceremony_id=ceremony_id or NO_CEREMONY,
            share_set_id=quorum.share_set_id,
            slip39_identifier=quorum.identifier,
            kek_check_value=kcv,
            key_count=key_count,
            mode=vault.mode,
            ledger_seq=head.seq,
            ledger_head=head.hash_hex,
        )
        if session.trusted_wrapping:  # the SO makes the KEK trusted: under hsm-procedure the SO PIN is the vendor's
            from vault.operations.hsm_procedure import refuse_pin_change

            refuse_pin_change(vault, "log in as the token's security officer to make the backup key trusted",
                              next_step="See docs/hsm-support.md (hsm-procedure): backups on this token need the "
                                        "trusted KEK its SO makes; nothing was written.")
        wkey = _import_kek(session, kek, pins or quorum)
        try:
            writer = BundleWriter(path, header, mac_key)
            written_keys = _KeysDigest()
            with writer:
                tested = _write_entries(session, wkey, writer, written_keys.feed(iter_keys_to_back_up(vault)), key_count)
                _write_metadata(vault, writer, metadata_key, head.seq)
            written = writer.result
            assert written is not None
            inode = os.stat(path).st_ino
            crashpoint.reached("backup:published")  # the bundle is in place, not yet recorded
            try:
                with store.atomic():
                    recorded_keys = _KeysDigest()
                    backup = store.record_backup(
                        NewBackup(
                            path=str(path.resolve()),
                            sha256=written.sha256,
                            format_version=FORMAT_VERSION,
                            share_set_id=quorum.share_set_id,
                            kek_check_value=kcv,
                            ceremony_id=ceremony_id,
                        ),
                        ((r.id, r.fingerprint) for r in recorded_keys.feed(iter_keys_to_back_up(vault))),
                    )
                    if recorded_keys.value != written_keys.value:
                        raise _keys_changed()
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
        metadata_key.wipe()
    return BackupResult(backup, backup.path, written.sha256, written.size, written.key_count, kcv,
                        quorum.share_set_id, tested)  # fmt: skip


def _write_metadata(vault: Vault, writer: BundleWriter, metadata_key, ledger_seq: int) -> None:
    """The vault's metadata (every table, the ledger up to the header's head) after the keys,
    sealed (vault.backup.metadata), read in one transaction so that it is one consistent state."""
    store = vault.store
    with store.atomic():
        if vault.ledger.head().seq != ledger_seq:
            raise _keys_changed()
        records = store.snapshot_records(ledger_seq, blobs=writer.header.format_version >= 3)
        if writer.header.format_version >= 3:  # and the home's custodian.toml (vault.operations.rebuild_config)
            records = _after_first(records, config_record(vault.home.config))
        for chunk in seal_records(metadata_key, records, layout=writer.header.format_version):
            writer.add_metadata(chunk)


def _after_first(records, extra):
    it = iter(records)
    yield next(it)  # the snapshot's start record
    yield extra
    yield from it


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
