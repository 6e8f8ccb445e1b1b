"""The allowed key-state transitions, checked against a table written out here by hand from
NIST SP 800-57 Part 1 (section 7, "Key States and Transitions", the figure of states and
numbered transitions), not built from the production table (vault.types.ALLOWED_TRANSITIONS).

Adding a transition to the production table, or dropping one, fails here; so does a store
that applies a transition the standard does not have.
"""

from __future__ import annotations

import itertools

import pytest

from vault.errors import TransitionRefused
from vault.types import ALLOWED_TRANSITIONS, KeyState

# (from, to) by the values users see; numbered as the standard's transitions.
NIST_SP_800_57_TRANSITIONS = {
    ("pre-activation", "active"),                  # 1  the key is activated
    ("pre-activation", "compromised"),             # 2  compromised before use
    ("pre-activation", "destroyed"),               # 3  never needed: destroyed
    ("active", "compromised"),                     # 4
    ("active", "deactivated"),                     # 5  end of its cryptoperiod (rotation)
    ("active", "suspended"),                       # 6
    ("suspended", "active"),                       # 7  reactivated
    ("suspended", "compromised"),                  # 8
    ("suspended", "deactivated"),                  # 9
    ("deactivated", "compromised"),                # 10
    ("deactivated", "destroyed"),                  # 11
    ("compromised", "destroyed-compromised"),      # 12
    ("destroyed", "destroyed-compromised"),        # 13 compromise found after destruction
}
STATES = ["pre-activation", "active", "suspended", "deactivated", "compromised", "destroyed", "destroyed-compromised"]


def test_the_states_are_the_standards():
    assert sorted(s.value for s in KeyState) == sorted(STATES)


def test_the_production_table_is_exactly_the_standards():
    production = {(a.value, b.value) for a, b in ALLOWED_TRANSITIONS}
    assert production - NIST_SP_800_57_TRANSITIONS == set(), "transitions the standard does not allow"
    assert NIST_SP_800_57_TRANSITIONS - production == set(), "transitions of the standard that are missing"


ROUTE = {  # reaching each state only through transitions of the table above
    "pre-activation": [], "active": ["active"], "suspended": ["active", "suspended"],
    "deactivated": ["active", "deactivated"], "compromised": ["compromised"], "destroyed": ["destroyed"],
    "destroyed-compromised": ["compromised", "destroyed-compromised"],
}
PAIRS = list(itertools.product(STATES, STATES))


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_the_store_applies_exactly_the_standards_transitions(store, make_key, old, new):
    key = make_key()
    for step in ROUTE[old]:
        key = store.transition_key(key.id, KeyState(step), actor="alice", ceremony_id=None, reason="setup")
    if (old, new) in NIST_SP_800_57_TRANSITIONS:
        assert store.transition_key(key.id, KeyState(new), actor="bob", ceremony_id=None, reason="t").state.value == new
    else:  # refused by the store's own check (its message), before the schema's trigger would be
        with pytest.raises(TransitionRefused, match=f"cannot go from {old} to {new}[.]"):
            store.transition_key(key.id, KeyState(new), actor="bob", ceremony_id=None, reason="t")


REFUSED_PAIRS = [p for p in PAIRS if p not in NIST_SP_800_57_TRANSITIONS]


@pytest.mark.parametrize(("old", "new"), REFUSED_PAIRS, ids=[f"{a}->{b}" for a, b in REFUSED_PAIRS])
def test_the_store_refuses_them_itself_without_the_schema_trigger(store, db_path, make_key, old, new):
    """Two locks, each tested alone: with the schema's trigger dropped (its own test is raw SQL,
    tests/store/test_transitions.py), the store's check still refuses every pair the standard lacks."""
    import sqlite3

    raw = sqlite3.connect(db_path)
    raw.execute("DROP TRIGGER keys_state_transition")
    raw.commit()
    raw.close()
    key = make_key()
    for step in ROUTE[old]:
        key = store.transition_key(key.id, KeyState(step), actor="alice", ceremony_id=None, reason="setup")
    with pytest.raises(TransitionRefused, match=f"cannot go from {old} to {new}[.]"):
        store.transition_key(key.id, KeyState(new), actor="bob", ceremony_id=None, reason="t")
    assert store.get_key(key.id).state.value == old
