"""Keys read a page at a time, looked up by label in batches, recorded in a backup from a stream."""

from __future__ import annotations

import pytest

from vault.store import BackupDecision, NewBackup
from vault.types import KeyState


def _share_set(store):
    return store.add_share_set("s", identifier=7, group_threshold=1, groups=[(2, 3)], iteration_exponent=1,
                               passphrase=False, commitment_salt="salt", check_value="cv")  # fmt: skip


def test_iter_keys_pages_in_creation_order_with_filters(store, make_key):
    keys = [make_key(f"k{i}") for i in range(7)]
    make_key("nb", backup=BackupDecision.NO_BACKUP, no_backup_reason="not wrappable")
    store.transition_key(keys[2].id, KeyState.ACTIVE, actor="a", ceremony_id=None, reason="r")
    assert [k.label for k in store.iter_keys(page=2)] == [f"k{i}" for i in range(7)] + ["nb"]
    assert list(store.iter_keys(page=3)) == store.list_keys()
    backed = list(store.iter_keys([KeyState.PRE_ACTIVATION], backup=BackupDecision.BACKED_UP, page=2))
    assert [k.label for k in backed] == ["k0", "k1", "k3", "k4", "k5", "k6"]
    assert store.count_keys([KeyState.PRE_ACTIVATION], backup=BackupDecision.BACKED_UP) == 6
    assert store.count_keys() == 8 and store.count_keys([]) == 0 and list(store.iter_keys([])) == []
    assert [k.label for k in store.iter_keys([KeyState.ACTIVE])] == ["k2"]


def test_iter_keys_tolerates_writes_between_pages(store, make_key):
    for i in range(4):
        make_key(f"k{i}")
    seen = []
    for key in store.iter_keys(page=2):
        seen.append(key.label)
        if key.label == "k1":
            make_key("late")  # a later id: the next page picks it up
    assert seen == ["k0", "k1", "k2", "k3", "late"]


def test_keys_by_labels_in_chunks(store, make_key):
    for i in range(1203):
        make_key(f"k{i}")
    wanted = [f"k{i}" for i in range(0, 1203, 2)] + ["unknown", "k0"]
    found = store.keys_by_labels(wanted)
    assert set(found) == {f"k{i}" for i in range(0, 1203, 2)}
    assert found["k1202"].label == "k1202"
    assert store.keys_by_labels([]) == {}


def test_set_keys_token_updates_many(store, make_key):
    keys = [make_key(f"k{i}") for i in range(3)]
    assert store.set_keys_token((k.id for k in keys[:2]), "serial-2") == 2
    assert [k.token_serial for k in store.list_keys()] == ["serial-2", "serial-2", "0a1b2c3d"]


def test_record_backup_streams_its_entries(store, make_key):
    share_set = _share_set(store)
    keys = [make_key(f"k{i}") for i in range(5)]
    pulled = []

    def entries():
        for k in keys:
            pulled.append(k.id)
            yield k.id, k.fingerprint

    backup = store.record_backup(NewBackup("/b", "ab" * 32, 1, share_set.id, "kcv"), entries())
    assert backup.key_count == 5 and pulled == [k.id for k in keys]
    assert [e.label for e in store.backup_keys(backup.id)] == [k.label for k in keys]


def test_record_backup_rolls_back_when_its_entries_fail(store, make_key):
    share_set = _share_set(store)
    key = make_key("k")

    def entries():
        yield key.id, key.fingerprint
        raise RuntimeError("the keys changed")

    with pytest.raises(RuntimeError):
        store.record_backup(NewBackup("/b", "ab" * 32, 1, share_set.id, "kcv"), entries())
    assert store.list_backups() == []
    assert store.conn.execute("SELECT count(*) FROM backup_keys").fetchone()[0] == 0
