"""NIST SP 800-57 key states: every allowed transition works, every other one is refused twice:
by ``Store.transition_key`` and by the schema's trigger when attempted with raw SQL."""

from __future__ import annotations

import itertools
import sqlite3

import pytest

from vault.errors import TransitionRefused
from vault.store.records import STATE_TIME_COLUMN
from vault.types import ALLOWED_TRANSITIONS, KeyState

S = KeyState
ALL_PAIRS = list(itertools.product(KeyState, KeyState))
ALLOWED = sorted(ALLOWED_TRANSITIONS, key=lambda p: (p[0].value, p[1].value))
REFUSED = sorted((p for p in ALL_PAIRS if p not in ALLOWED_TRANSITIONS), key=lambda p: (p[0].value, p[1].value))

#: An allowed route from pre-activation to each state.
ROUTE = {
    S.PRE_ACTIVATION: [],
    S.ACTIVE: [S.ACTIVE],
    S.SUSPENDED: [S.ACTIVE, S.SUSPENDED],
    S.DEACTIVATED: [S.ACTIVE, S.DEACTIVATED],
    S.COMPROMISED: [S.COMPROMISED],
    S.DESTROYED: [S.DESTROYED],
    S.DESTROYED_COMPROMISED: [S.COMPROMISED, S.DESTROYED_COMPROMISED],
}


def _ids(pairs):
    return [f"{a.value}->{b.value}" for a, b in pairs]


def test_the_tables_cover_every_pair():
    assert len(ALLOWED) + len(REFUSED) == 49 and len(ALLOWED) == 13


@pytest.fixture
def key_in(store, make_key):
    def make(state: KeyState):
        key = make_key()
        for step in ROUTE[state]:
            key = store.transition_key(key.id, step, actor="alice", ceremony_id=None, reason="setup")
        assert key.state is state
        return key
    return make


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=_ids(ALLOWED))
def test_allowed_transition_is_applied_with_its_time_and_history(store, key_in, make_ceremony, old, new):
    key = key_in(old)
    ceremony = make_ceremony("rotate")
    before = len(store.key_history(key.id))
    after = store.transition_key(key.id, new, actor="bob", ceremony_id=ceremony.id, reason="because")
    assert after.state is new
    assert after.entered_at(new) is not None and after.entered_at(new) > key.created_at
    history = store.key_history(key.id)
    assert len(history) == before + 1
    last = history[-1]
    assert (last.from_state, last.to_state, last.actor, last.ceremony_id, last.reason) == (
        old, new, "bob", ceremony.id, "because")
    assert last.at == after.entered_at(new)


@pytest.mark.parametrize(("old", "new"), REFUSED, ids=_ids(REFUSED))
def test_refused_transition_names_both_states_and_changes_nothing(store, key_in, old, new):
    key = key_in(old)
    history = store.key_history(key.id)
    with pytest.raises(TransitionRefused) as info:
        store.transition_key(key.id, new, actor="bob", ceremony_id=None, reason="try")
    message = str(info.value)
    assert f"from {old.value} to {new.value}" in message
    assert (info.value.from_state, info.value.to_state) == (old, new)
    assert store.get_key(key.id) == key
    assert store.key_history(key.id) == history


@pytest.mark.parametrize(("old", "new"), REFUSED, ids=_ids(REFUSED))
def test_schema_trigger_refuses_the_transition_with_raw_sql(store, key_in, db_path, old, new):
    key = key_in(old)
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="transition not allowed"):
            raw.execute("UPDATE keys SET state = ? WHERE id = ?", (new.value, key.id))
        raw.rollback()
        assert raw.execute("SELECT state FROM keys WHERE id = ?", (key.id,)).fetchone()[0] == old.value
    finally:
        raw.close()


@pytest.mark.parametrize(("old", "new"), ALLOWED, ids=_ids(ALLOWED))
def test_schema_trigger_lets_allowed_transitions_through(store, key_in, db_path, old, new):
    key = key_in(old)
    raw = sqlite3.connect(db_path)
    try:
        raw.execute("UPDATE keys SET state = ? WHERE id = ?", (new.value, key.id))
        raw.commit()
    finally:
        raw.close()
    assert store.get_key(key.id).state is new


def test_check_constraint_refuses_an_unknown_state(store, make_key, db_path):
    key = make_key()
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("UPDATE keys SET state = 'retired' WHERE id = ?", (key.id,))
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            raw.execute(
                "INSERT INTO keys (label, cka_id, algorithm, state, lineage, version, fingerprint, backup_decision, "
                "token_serial, created_at) VALUES ('x', '01', 'aes-256', 'bogus', ?, 2, 'f', 'backed-up', 's', 't')",
                (key.lineage,),  # an existing name: a version of an unknown name is refused before CHECK
            )
    finally:
        raw.close()


def test_keys_and_their_history_are_never_deleted(store, make_key, db_path):
    key = make_key()
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="tombstone"):
            raw.execute("DELETE FROM keys WHERE id = ?", (key.id,))
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM key_state_history")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE key_state_history SET actor = 'mallory'")
    finally:
        raw.close()


def test_every_state_has_a_lifecycle_time_column():
    assert set(STATE_TIME_COLUMN) == set(KeyState)
