"""Backup and restore stream: memory does not follow the key count, and every undo path holds.

The memory test measures tracemalloc peaks (allocation sizes, not time) of a backup and a
restore at 200 and at 600 keys: the growth per added key must stay far below the size of a
bundle entry (about 300 bytes), where keeping every token object or key record in memory
cost over 4 KB per key.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from pkcs11 import KeyType  # setup only: tokens filled directly, as the benchmark does

from vault.errors import StoreError
from vault.hsm import HSM_LOCK, templates
from vault.operations import change_key_state, generate_key, initialise_token, restore_backup, write_backup
from vault.store.records import BackupDecision
from vault.types import KeyAlgorithm, KeyState

from .conftest import CEREMONY, actions


def _add_keys(vault, session, start: int, count: int, ec_every: int = 25) -> None:
    """Token keys made with the vault's templates, recorded in the database (fast: no per-key
    label search, as the backup benchmark's setup)."""
    spec = templates.SPECS[KeyAlgorithm.EC_P256]
    with HSM_LOCK:
        raw = session._session
        for i in range(start, start + count):
            label, key_id = f"k-{i:05d}", i.to_bytes(16, "big")
            if i % ec_every:
                raw.generate_key(KeyType.AES, 256, id=key_id, label=label, store=True, capabilities=0,
                                 template=templates.secret_key(label, key_id, store=True, backup=True))  # fmt: skip
            else:
                raw.generate_keypair(
                    spec.key_type, spec.bits, id=key_id, label=label, store=True, capabilities=0,
                    mechanism=spec.generate_mechanism,
                    public_template=templates.public_key(KeyAlgorithm.EC_P256, label, key_id, store=True),
                    private_template=templates.private_key(KeyAlgorithm.EC_P256, label, key_id, store=True,
                                                           backup=True),
                )  # fmt: skip
    known = {r.label for r in vault.store.list_keys()}
    with vault.store.atomic():
        for key in session.list_keys():
            if key.label not in known:
                vault.store.add_key(key.label, cka_id=key.key_id, algorithm=key.algorithm, fingerprint=key.fingerprint,
                                    token_serial=session.token.serial, actor="test", state=KeyState.ACTIVE,
                                    backup=BackupDecision.BACKED_UP)  # fmt: skip


def _peak(fn, *args, **kwargs):
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1] - base, result
    finally:
        tracemalloc.stop()


def _fresh_token_session(vault, quorum, label):
    info = initialise_token(vault, quorum, label, replacement=True)
    with quorum.user_pin() as pin:
        return vault.hsm().open_session(info, pin)


@pytest.mark.slow  # ~20 s: 600 token keys made, backed up and restored twice, under tracemalloc
def test_backup_and_restore_memory_is_flat_in_the_key_count(practice_vault, session, quorum, tmp_path, monkeypatch):
    # Batches far below both sizes, so that what is measured is growth, not batches filling up.
    import vault.hsm.unwrap as hsm_unwrap_module
    import vault.operations.backup as backup_module
    import vault.operations.bundles as bundles_module
    import vault.operations.restore as restore_module
    import vault.backup.columnar as columnar_module  # format 3: the metadata's rows in blocks
    import vault.store.snapshot as snapshot_module  # the vault metadata a bundle carries

    for module, name in ((backup_module, "TEST_UNWRAP_BATCH"), (backup_module, "KEY_PAGE"),
                         (bundles_module, "TEST_UNWRAP_BATCH"), (bundles_module, "LOOKUP_BATCH"),
                         (restore_module, "LOOKUP_BATCH"), (hsm_unwrap_module, "GC_EVERY"),
                         (snapshot_module, "PAGE"), (columnar_module, "BLOCK")):  # fmt: skip
        monkeypatch.setattr(module, name, 16)
    import vault.backup.metadata as metadata_module

    monkeypatch.setattr(metadata_module, "CHUNK_BYTES", 1024)  # a sealed chunk fills up far below both sizes
    peaks = {}
    for n, (start, count) in ((200, (0, 200)), (600, (200, 400))):
        _add_keys(practice_vault, session, start, count)
        if n == 200:  # once unmeasured: first-use imports and caches are not per-key memory
            write_backup(practice_vault, session, quorum, tmp_path / "warm-up.bundle")
        bundle = tmp_path / f"b{n}.bundle"
        backup_peak, result = _peak(write_backup, practice_vault, session, quorum, bundle)
        assert result.key_count == n and result.keys_test_unwrapped == n
        with _fresh_token_session(practice_vault, quorum, f"restore-{n}") as target:
            restore_peak, restored = _peak(restore_backup, practice_vault, target, quorum, bundle)
            assert restored.key_count == n
        peaks[n] = (backup_peak, restore_peak, result.size)
    (b1, r1, size1), (b2, r2, size2) = peaks[200], peaks[600]
    per_entry = (size2 - size1) / 400
    assert per_entry > 250
    assert (b2 - b1) / 400 < 0.5 * per_entry, peaks
    assert (r2 - r1) / 400 < 1.0 * per_entry, peaks


def test_a_key_changed_while_the_backup_was_written_records_nothing(practice_vault, session, quorum, tmp_path,
                                                                     monkeypatch):  # fmt: skip
    generate_key(practice_vault, session, "a", KeyAlgorithm.AES_256)
    generate_key(practice_vault, session, "b", KeyAlgorithm.EC_P256)
    real = practice_vault.store.record_backup

    def record_after_a_change(new, entries):
        change_key_state(practice_vault, "a", KeyState.SUSPENDED, reason="meanwhile")
        return real(new, entries)

    monkeypatch.setattr(practice_vault.store, "record_backup", record_after_a_change)
    path = tmp_path / "b.bundle"
    with pytest.raises(StoreError, match="changed while the backup"):
        write_backup(practice_vault, session, quorum, path, ceremony_id=CEREMONY)
    assert not path.exists()
    assert practice_vault.store.list_backups() == [] and "backup.written" not in actions(practice_vault)
    assert practice_vault.store.get_key_by_label("a").state is KeyState.ACTIVE  # rolled back too


def test_a_restore_whose_bookkeeping_fails_leaves_the_token_empty(practice_vault, session, quorum, tmp_path,
                                                                   monkeypatch):  # fmt: skip
    for i, algorithm in enumerate([KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256, KeyAlgorithm.AES_256]):
        generate_key(practice_vault, session, f"k{i}", algorithm)
    bundle = tmp_path / "b.bundle"
    write_backup(practice_vault, session, quorum, bundle)
    session.close()
    real_append = practice_vault.ledger.append

    def failing_append(action, *args, **kwargs):
        if action == "backup.restored":
            raise StoreError("the disk is full")
        return real_append(action, *args, **kwargs)

    monkeypatch.setattr(practice_vault.ledger, "append", failing_append)
    with _fresh_token_session(practice_vault, quorum, "replacement") as target:
        with pytest.raises(StoreError, match="disk is full"):
            restore_backup(practice_vault, target, quorum, bundle)
        assert target.list_keys() == []
        assert list(target._session.get_objects({})) == []  # no object of any kind, KEK included
    assert {r.token_serial for r in practice_vault.store.list_keys()} == {session.token.serial}
