"""The ledger chain: appends, canonical hashing, refusing secrets, verify on an honest chain."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault.ledger import GENESIS_PREV_HASH, Ledger, LedgerHead, canonical_event, event_hash
from vault.secret import Secret
from vault.store import Store
from vault.types import KeyState


class Clock:
    def __init__(self):
        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        self.now += timedelta(milliseconds=1500)
        return self.now


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "custodian.db")
    yield s
    s.close()


@pytest.fixture
def ledger(store):
    return Ledger(store, clock=Clock())


def reference_hash(row) -> str:
    """How an auditor re-checks an event without this software: plain json.dumps + sha256."""
    obj = {"seq": row.seq, "at": row.at, "actor": row.actor, "ceremony_id": row.ceremony_id, "action": row.action,
           "details": json.loads(row.details), "prev_hash": row.prev_hash}
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def body_hash(store, seq) -> str:
    """Or straight from the stored body: its SHA-256, and its fields re-encoded canonically."""
    body = store.ledger_body(seq)
    canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical.encode("utf-8") == body
    return hashlib.sha256(body).hexdigest()


def test_first_event_links_to_genesis(ledger, store):
    assert ledger.head() == LedgerHead(0, GENESIS_PREV_HASH) and GENESIS_PREV_HASH == "0" * 64
    event = ledger.append("vault.init", {"mode": "practice"}, actor="admin")
    assert (event.seq, event.prev_hash, event.details, event.ceremony_id) == (1, "0" * 64, {"mode": "practice"}, None)
    assert event.at == "2026-05-01T09:00:01.500000Z"
    assert ledger.head() == event.head == LedgerHead(1, event.hash)
    assert event.hash == reference_hash(store.ledger_last())
    report = ledger.verify()
    assert (report.ok, report.count, report.head, report.first_bad_seq, report.problem) == (
        True, 1, event.head, None, None)


def test_empty_ledger_verifies(ledger):
    assert ledger.verify() == ledger.verify(expected_head=LedgerHead(0, GENESIS_PREV_HASH))
    assert ledger.verify().ok and ledger.verify().count == 0


def test_append_many_is_one_transaction_with_one_timestamp(ledger, store):
    ledger.append("a", {}, actor="x")
    head = ledger.append_many([("key.listed", {"label": f"k{i}"}) for i in range(5)], actor="admin",
                              ceremony_id="c-1")
    assert head.seq == 6 and ledger.head() == head
    rows = list(store.ledger_rows(2))
    assert len({r.at for r in rows}) == 1 and {r.ceremony_id for r in rows} == {"c-1"}
    assert [e.seq for e in ledger.events_of("c-1")] == [2, 3, 4, 5, 6]
    assert ledger.append_many([], actor="admin") == head
    assert ledger.verify().ok


def test_chain_continues_across_reopening(tmp_path):
    path = tmp_path / "custodian.db"
    with Store.open(path) as s:
        Ledger(s).append("one", {}, actor="a")
    with Store.open(path) as s:
        event = Ledger(s).append("two", {}, actor="a")
        assert event.seq == 2 and Ledger(s).verify().ok


def test_details_accept_enums_and_tuples_canonically(ledger, store):
    event = ledger.append("key.transition", {"to": KeyState.ACTIVE, "pair": (1, 2), "b": None}, actor="a")
    assert store.ledger_last().details == '{"b":null,"pair":[1,2],"to":"active"}'
    assert event.details == {"b": None, "pair": [1, 2], "to": "active"}


@pytest.mark.parametrize("details", [
    {"pin": Secret("1234", "pin")},
    {"nested": {"deeper": [1, 2, {"share": Secret("word " * 20, "share")}]}},
    {"list": [Secret(b"\x00" * 32, "key bytes")]},
])
def test_a_secret_anywhere_in_details_is_refused_and_nothing_is_appended(ledger, store, details):
    ledger.append("before", {}, actor="a")
    with pytest.raises(TypeError, match="Secret"):
        ledger.append("leak", details, actor="a")
    with pytest.raises(TypeError, match="Secret"):
        ledger.append_many([("ok", {}), ("leak", details)], actor="a")
    assert store.ledger_count() == 1 and ledger.verify().ok


def test_bad_details_and_names_are_refused(ledger, store):
    with pytest.raises(TypeError):
        ledger.append("x", ["not", "a", "dict"], actor="a")
    with pytest.raises(TypeError):
        ledger.append("x", {"when": datetime.now()}, actor="a")
    with pytest.raises(ValueError):
        ledger.append("x", {"n": float("nan")}, actor="a")
    with pytest.raises(TypeError):
        ledger.append("", {}, actor="a")
    with pytest.raises(TypeError):
        ledger.append("x", {}, actor=Secret("admin"))
    with pytest.raises(ValueError, match="printable"):
        ledger.append("x\x00", {}, actor="a")
    with pytest.raises(ValueError, match="printable"):
        ledger.append("x", {}, actor="a\nb")
    assert store.ledger_count() == 0


def test_update_and_delete_are_refused_by_triggers(ledger, store):
    ledger.append("a", {}, actor="x")
    raw = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE ledger SET body = '{}' WHERE seq = 1")
        # The named columns are derived from the body when read (view ledger_events, schema v2;
        # generated columns in v1): there is no column to write on its own.
        with pytest.raises(sqlite3.OperationalError, match="generated column|no such column"):
            raw.execute("UPDATE ledger SET details = '{}' WHERE seq = 1")
        with pytest.raises(sqlite3.OperationalError, match="view"):
            raw.execute("UPDATE ledger_events SET details = '{}' WHERE seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM ledger WHERE seq = 1")
    finally:
        raw.close()
    assert ledger.verify().ok


def test_pgp_words_of_a_head(ledger):
    assert ledger.pgp_words("e582") == "topmost Istanbul"
    head = ledger.append("a", {}, actor="x").head
    assert len(ledger.pgp_words(head.hash_hex).split()) == 32


text = st.text(st.characters(codec="utf-8"), max_size=12)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
name = st.text(st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S"), include_characters=" "),
               min_size=1, max_size=12)
event = st.tuples(name, st.dictionaries(text, json_value, max_size=4))
batches = st.lists(
    st.tuples(st.lists(event, min_size=1, max_size=4), name, st.none() | name),
    min_size=1, max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches)
def test_chain_verifies_after_any_append_sequence(batches):
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "l.db") as store:
        ledger = Ledger(store, clock=Clock())
        total = 0
        for events, actor, ceremony_id in batches:
            if len(events) == 1:
                ledger.append(*events[0], actor=actor, ceremony_id=ceremony_id)
            else:
                ledger.append_many(events, actor=actor, ceremony_id=ceremony_id)
            total += len(events)
        report = ledger.verify()
        assert report.ok and report.count == total and report.head == ledger.head()
        rows = list(store.ledger_rows(batch_size=3))
        assert [r.seq for r in rows] == list(range(1, total + 1))
        prev = GENESIS_PREV_HASH
        for row in rows:
            # Fast canonical text == json.dumps of the decoded event: auditors can re-check with any JSON tool.
            assert row.prev_hash == prev and row.hash == reference_hash(row) == body_hash(store, row.seq)
            assert row.hash == event_hash(row.seq, row.at, row.actor, row.ceremony_id, row.action, row.details,
                                          row.prev_hash)
            prev = row.hash
        assert ledger.verify(expected_head=ledger.head()).ok


@given(st.dictionaries(text, json_value, max_size=5), text, st.none() | text)
def test_canonical_event_equals_json_dumps(details, actor, ceremony_id):
    from vault.store.canonical import canonical_json

    details_json = canonical_json(details)
    fast = canonical_event(7, "2026-05-01T09:00:00.000000Z", actor, ceremony_id, "act", details_json, "ab" * 32)
    slow = json.dumps({"seq": 7, "at": "2026-05-01T09:00:00.000000Z", "actor": actor, "ceremony_id": ceremony_id,
                       "action": "act", "details": json.loads(details_json), "prev_hash": "ab" * 32},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fast == slow


@given(json_value)
def test_canonical_json_is_json_dumps_with_the_canonical_options(value):
    from vault.store.canonical import canonical_json

    assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_canonical_json_refuses_circular_values():
    from vault.store.canonical import canonical_json

    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError):
        canonical_json(loop)
    assert canonical_json({"ok": 1}) == '{"ok":1}'  # and the next call is unaffected
