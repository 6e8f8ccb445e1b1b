"""A failure in the middle of an operation leaves no partial row."""

from __future__ import annotations

import pytest

from vault.errors import RecordNotFound
from vault.store import NewBackup
from vault.types import KeyState


def _count(store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_record_backup_with_one_unknown_key_writes_nothing(store, make_key):
    share_set = store.add_share_set("s", identifier=1, group_threshold=1, groups=[(1, 1)], iteration_exponent=1,
                                    passphrase=False, commitment_salt="x", check_value="y")
    key = make_key()
    with pytest.raises(RecordNotFound):
        store.record_backup(NewBackup("/b", "aa" * 32, 1, share_set.id, "kcv"), [(key.id, "f"), (9999, "f")])
    assert _count(store, "backups") == 0 and _count(store, "backup_keys") == 0


def test_add_key_with_an_unknown_ceremony_leaves_no_key_and_no_history(store, make_key):
    with pytest.raises(RecordNotFound):
        make_key("k", ceremony_id="no-such-ceremony")
    assert _count(store, "keys") == 0 and _count(store, "key_state_history") == 0


def test_transition_whose_history_row_fails_keeps_the_old_state(store, make_key):
    key = make_key()
    with pytest.raises(RecordNotFound):  # the history row's ceremony reference fails after the UPDATE
        store.transition_key(key.id, KeyState.ACTIVE, actor="a", ceremony_id="no-such-ceremony", reason="r")
    assert store.get_key(key.id) == key
    assert len(store.key_history(key.id)) == 1


def test_rotation_failing_half_way_changes_nothing(store, make_key):
    old = make_key("v1", lineage="kek")
    old = store.transition_key(old.id, KeyState.ACTIVE, actor="a", ceremony_id=None, reason="r")
    make_key("taken")
    with pytest.raises(Exception):
        store.rotate_key(old.id, "taken", cka_id="ff", fingerprint="f", token_serial="t", actor="a", ceremony_id=None)
    assert store.get_key(old.id).state is KeyState.ACTIVE
    assert [k.label for k in store.list_keys(lineage="kek")] == ["v1"]


def test_caller_atomic_block_rolls_back_every_change(store, make_custodian, make_key):
    with pytest.raises(RuntimeError):
        with store.atomic():
            make_custodian("Alice")
            make_key("k")
            store.set_setting("x", "y")
            raise RuntimeError("power cut")
    assert _count(store, "custodians") == _count(store, "keys") == _count(store, "settings") == 0
    assert not store.conn.in_transaction


def test_nested_atomic_failure_rolls_back_only_the_inner_block(store, make_custodian):
    with store.atomic():
        make_custodian("Alice")
        with pytest.raises(RuntimeError):
            with store.atomic():
                make_custodian("Bob")
                raise RuntimeError("inner")
    assert [c.name for c in store.list_custodians()] == ["Alice"]


def test_a_refused_duplicate_inside_a_caller_block_does_not_poison_the_outer_transaction(store, make_custodian):
    from vault.errors import RecordExists

    with store.atomic():
        make_custodian("Alice")
        with pytest.raises(RecordExists):
            make_custodian("alice")
        make_custodian("Bob")
    assert [c.name for c in store.list_custodians()] == ["Alice", "Bob"]


def test_activation_refused_leaves_the_previous_active_set(store, make_custodian):
    alice = make_custodian("Alice")

    def new_set(name, verified):
        s = store.add_share_set(name, identifier=1, group_threshold=1, groups=[(1, 1)], iteration_exponent=1,
                                passphrase=False, commitment_salt="x", check_value="y")
        h = store.add_share_holder(s.id, alice.id, group_index=0, member_index=0, commitment="c")
        if verified:
            store.mark_share_verified(h.id)
        return s

    first = store.activate_share_set(new_set("one", True).id)
    with pytest.raises(Exception):
        store.activate_share_set(new_set("two", False).id)
    assert store.active_share_set() == first
