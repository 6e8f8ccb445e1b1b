"""Opening a bundle for the quorum that wrote it: MAC verified and KEK matched before any HSM use."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from vault.backup.format import BundleHeader, KeyEntry, VerifiedEntries, inspect_bundle, iter_verified_entries
from vault.errors import BundleCorrupt, BundleForeign, HsmCheckFailed, VaultError, WrappedKeyInvalid
from vault.hsm import HsmSession, KeyObject, WrappingKey
from vault.operations._common import pem_to_der
from vault.operations.quorum import ActiveQuorum
from vault.secret import Secret
from vault.store.records import KeyRecord

if TYPE_CHECKING:
    from vault.vault import Vault


TEST_UNWRAP_BATCH = 256
#: Bundle entries looked up in the database per query (restore, drill).
LOOKUP_BATCH = 128


def open_verified(path: Path, quorum: ActiveQuorum, mac_key: Secret) -> VerifiedEntries:
    """The bundle's entries, after the whole file (MAC included) was checked.

    A bundle of another quorum fails the MAC; it is then named as foreign (from its header)
    rather than as damaged. ``mac_key`` must stay unwiped until the entries are consumed.
    """
    path = Path(path)
    expected = quorum.kek_check_value()
    try:
        verified = iter_verified_entries(path, mac_key)
    except BundleCorrupt:
        header = _header_if_intact(path)
        if header is not None and not hmac.compare_digest(header.kek_check_value, expected):
            raise _foreign(path, header, quorum) from None
        raise
    if not hmac.compare_digest(verified.header.kek_check_value, expected):
        raise _foreign(path, verified.header, quorum)
    return verified


def _header_if_intact(path: Path) -> BundleHeader | None:
    try:
        return inspect_bundle(path).header
    except BundleCorrupt:
        return None


def _foreign(path: Path, header: BundleHeader, quorum: ActiveQuorum) -> BundleForeign:
    return BundleForeign(
        f"Bundle {path} was written under share set {header.share_set_id} (SLIP-39 identifier "
        f"{header.slip39_identifier}, KEK check value {header.kek_check_value}); the active quorum is share set "
        f"{quorum.share_set.name!r} (identifier {quorum.identifier}, KEK check value {quorum.kek_check_value()})."
    )


def entry_key(entry: KeyEntry, record=None) -> KeyObject:
    """The KeyObject a bundle entry restores to (same label and CKA_ID, extractable for backup;
    the purpose the vault recorded, when it has the key)."""
    return KeyObject(
        label=entry.label,
        key_id=entry.cka_id,
        algorithm=entry.algorithm,
        fingerprint=entry.fingerprint,
        extractable=True,
        has_private=True,
        has_public=entry.algorithm.is_key_pair,
        purpose=None if record is None else record.purpose,
    )


def entry_item(entry: KeyEntry, record=None) -> tuple[KeyObject, bytes, bytes | None]:
    return entry_key(entry, record), entry.wrapped, pem_to_der(entry.public_key_pem)


def test_unwrap(session: HsmSession, wkey: WrappingKey, items: Iterable[tuple[KeyObject, bytes, bytes | None]]) -> int:
    """Every blob unwrapped into a session object and checked by the token module (AES: KCV;
    pairs: SPKI fingerprint and a signature verified in software against the bundle's public
    key), each copy destroyed by handle at once. In batches, so memory does not grow with the
    number of keys. Returns how many keys were checked; raises on the first that fails, naming
    its label (a failed batch is checked again one key at a time to find it)."""
    checked = 0
    for batch in batches(items, TEST_UNWRAP_BATCH):
        try:
            checked += session.check_unwrap_many(wkey, batch)
        except VaultError:
            for item in batch:
                try:
                    session.check_unwrap_many(wkey, [item])
                except VaultError as exc:
                    raise _naming(exc, item[0].label) from None
            raise
    return checked


def _naming(exc: VaultError, label: str) -> VaultError:
    """The same error (same code), its message starting with the key's label."""
    bad_blob = isinstance(exc, (WrappedKeyInvalid, HsmCheckFailed))
    next_step = ("Use another copy of this backup, or another backup; this copy was changed after it was written."
                 if bad_blob else exc.next_step)
    try:
        return type(exc)(f"Key {label!r} of the bundle: {exc.message}", next_step=next_step)
    except TypeError:  # an error class with a constructor of its own: keep it as it is
        return exc


def batches(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of at most ``size``."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def with_records(vault: Vault, entries: Iterable[KeyEntry]) -> Iterator[tuple[KeyEntry, KeyRecord | None]]:
    """Each entry with the database's record of its label (None: unknown), looked up
    ``LOOKUP_BATCH`` entries per query, so that memory does not grow with the bundle."""
    for batch in batches(entries, LOOKUP_BATCH):
        known = vault.store.keys_by_labels(entry.label for entry in batch)
        for entry in batch:
            yield entry, known.get(entry.label)
