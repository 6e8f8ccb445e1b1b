"""``verify`` names the first bad sequence number for any edit, deletion, insertion or reorder.

The product cannot change the ledger (triggers refuse UPDATE and DELETE), so each test plays the
attacker with a raw sqlite3 connection that first drops those triggers. A stored event is
``(seq, body, hash)`` with the other columns generated from ``body``, so edits rewrite the body.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault import chain_pass
from vault.errors import LedgerTampered
from vault.ledger import Ledger, canonical_event, event_hash
from vault.store import Store

FIELDS = ("at", "actor", "ceremony_id", "action", "details", "prev_hash", "seq", "hash")
PROBLEM = {"prev_hash": "does not follow", "seq": "was moved"}  # anything else: "altered"


def build(path: Path, n: int) -> Ledger:
    store = Store.open(path)
    ledger = Ledger(store)
    for i in range(1, n + 1):
        ledger.append(f"event.{i}", {"i": i, "label": f"key-{i}"}, actor=f"custodian-{i % 3}",
                      ceremony_id=None if i % 4 == 0 else f"c-{i // 5}")
    return ledger


def attacker(path: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("DROP TRIGGER IF EXISTS ledger_no_update")
    raw.execute("DROP TRIGGER IF EXISTS ledger_no_delete")
    return raw


def row(raw, seq):
    return raw.execute("SELECT seq, body, hash FROM ledger WHERE seq = ?", (seq,)).fetchone()


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def edit(raw, k, field):
    """Change one field of event k, keeping the body well-formed JSON (the hash is left as it was)."""
    _, body, digest = row(raw, k)
    if field == "hash":
        raw.execute("UPDATE ledger SET hash = ? WHERE seq = ?", ("f" * 64 if digest != "f" * 64 else "e" * 64, k))
        return
    event = json.loads(body)
    old = event[field]
    event[field] = {
        "ceremony_id": "c-forged" if old is None else None,
        "details": {"i": 0},
        "prev_hash": "f" * 64,
        "seq": k + 100,
    }.get(field, f"{old}x")
    raw.execute("UPDATE ledger SET body = ? WHERE seq = ?", (dumps(event), k))


def shift_up(raw, from_seq):
    """Renumber events from_seq.. one higher (two steps so the primary key never collides)."""
    raw.execute("UPDATE ledger SET seq = seq + 1000000 WHERE seq >= ?", (from_seq,))
    raw.execute("UPDATE ledger SET seq = seq - 999999 WHERE seq > 1000000")


def forge_insert(raw, k):
    """Insert a well-formed event at position k: it links to k-1 and carries a correct hash."""
    prev = "0" * 64 if k == 1 else row(raw, k - 1)[2]
    shift_up(raw, k)
    fields = (k, "2026-05-01T09:00:00.000000Z", "mallory", None, "key.export", '{"label":"kek"}', prev)
    raw.execute("INSERT INTO ledger (seq, body, hash) VALUES (?, ?, ?)",
                (k, canonical_event(*fields), event_hash(*fields)))


def swap(raw, i, j):
    a, b = row(raw, i), row(raw, j)
    raw.execute("UPDATE ledger SET body = ?, hash = ? WHERE seq = ?", (b[1], b[2], i))
    raw.execute("UPDATE ledger SET body = ?, hash = ? WHERE seq = ?", (a[1], a[2], j))


@pytest.fixture
def chain(tmp_path):
    path = tmp_path / "custodian.db"
    ledger = build(path, 10)
    yield ledger, path
    ledger._store.close()


# Batches of 3 put event 6 in a full range (rows 4 to 6), read without seqs (vault.chain_pass's
# fast path); 1 puts every event in one; the default reads the 10 events as one short range
# (the exact path, row by row with seqs).
BATCHES = (1, 3, chain_pass.BATCH)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("field", FIELDS)
def test_an_edited_field_is_found_at_its_event(chain, field, batch):
    ledger, path = chain
    with closing(attacker(path)) as raw:
        edit(raw, 6, field)
    report = ledger.verify(batch_size=batch)
    assert not report.ok and report.first_bad_seq == 6
    assert PROBLEM.get(field, "altered") in report.problem
    assert report.count == 5 and report.head.seq == 5
    with pytest.raises(LedgerTampered, match="event 6"):
        report.raise_if_bad()


def test_a_body_that_is_no_longer_json_is_an_alteration_not_a_crash(chain):
    ledger, path = chain
    with closing(attacker(path)) as raw:
        # SQLite refuses text that is not JSON at all (the generated columns parse it); an array it takes.
        raw.execute("UPDATE ledger SET body = '[3]' WHERE seq = 3")
    report = ledger.verify()
    assert report.first_bad_seq == 3 and "well-formed" in report.problem


@pytest.mark.parametrize("batch", BATCHES)
def test_a_deleted_event_is_found_at_its_number(chain, batch):
    ledger, path = chain
    with closing(attacker(path)) as raw:
        raw.execute("DELETE FROM ledger WHERE seq IN (4, 5)")
    report = ledger.verify(batch_size=batch)
    assert report.first_bad_seq == 4 and "events 4 to 5 are missing" in report.problem


@pytest.mark.parametrize("batch", BATCHES)
def test_a_forged_insertion_is_found_where_the_chain_breaks(chain, batch):
    ledger, path = chain
    with closing(attacker(path)) as raw:
        forge_insert(raw, 4)
    report = ledger.verify(batch_size=batch)
    # Event 4 is self-consistent; the old event 4, now 5, no longer follows it.
    assert report.first_bad_seq == 5 and "does not follow event 4" in report.problem


@pytest.mark.parametrize("batch", BATCHES)
def test_reordered_events_are_found_at_the_earlier_position(chain, batch):
    ledger, path = chain
    with closing(attacker(path)) as raw:
        swap(raw, 3, 7)
    assert ledger.verify(batch_size=batch).first_bad_seq == 3


@pytest.mark.parametrize("batch", BATCHES)
def test_renumbered_rows_whose_bodies_still_chain_are_found_at_the_gap(chain, batch):
    """The rows from 5 on are moved one seq up, their bodies untouched: the bodies still chain
    (body 5 follows body 4), but row 6 holds event 5. In batches of 3 the range 4..6 holds two
    rows, so its count (not a per-row seq test) sends it to the exact path, which names the gap."""
    ledger, path = chain
    with closing(attacker(path)) as raw:
        shift_up(raw, 5)
    report = ledger.verify(batch_size=batch)
    assert report.first_bad_seq == 5 and "event 5 is missing" in report.problem, report.problem
    assert report.count == 4


@pytest.mark.parametrize("batch", BATCHES)
def test_a_gap_bridged_by_a_forged_event_is_found_at_the_gap(chain, batch):
    """Event 10 is deleted and a forged event numbered 11 is put after event 9: it links to event
    9, carries its own seq and a correct hash, so only the seq test (11 where 10 is due) sees it."""
    ledger, path = chain
    with closing(attacker(path)) as raw:
        prev = row(raw, 9)[2]
        raw.execute("DELETE FROM ledger WHERE seq = 10")
        fields = (11, "2026-05-01T09:00:00.000000Z", "mallory", None, "key.export", '{"label":"kek"}', prev)
        raw.execute("INSERT INTO ledger (seq, body, hash) VALUES (?, ?, ?)",
                    (11, canonical_event(*fields), event_hash(*fields)))
    report = ledger.verify(batch_size=batch)
    assert report.first_bad_seq == 10 and "event 10 is missing" in report.problem, report.problem


def test_truncation_and_a_rewritten_tail_need_the_recorded_head(chain):
    ledger, path = chain
    recorded = ledger.head()
    with closing(attacker(path)) as raw:
        raw.execute("DELETE FROM ledger WHERE seq >= 9")
    assert ledger.verify().ok  # a chain alone cannot see a cut tail...
    report = ledger.verify(expected_head=recorded)  # ...the printed/signed head can
    assert report.first_bad_seq == 9 and "removed from the end" in report.problem

    with closing(attacker(path)) as raw:
        forge_insert(raw, 9)
        forge_insert(raw, 10)
    assert ledger.verify().ok
    report = ledger.verify(expected_head=recorded)
    assert not report.ok and report.first_bad_seq == 10 and "rewritten" in report.problem


OPS = st.sampled_from(["edit", "delete", "forge_insert", "garbage_insert", "swap"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 14), op=OPS, data=st.data())
def test_any_tampering_is_found_at_the_right_sequence_number(n, op, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.db"
        ledger = build(path, n)
        head = ledger.head()
        k = data.draw(st.integers(1, n), label="k")
        with closing(attacker(path)) as raw:
            if op == "edit":
                edit(raw, k, data.draw(st.sampled_from(FIELDS), label="field"))
                expected = k
            elif op == "delete":
                raw.execute("DELETE FROM ledger WHERE seq = ?", (k,))
                expected = k  # the gap (or, for the last event, the recorded head) names it
            elif op == "forge_insert":
                forge_insert(raw, k)
                expected = k + 1
            elif op == "garbage_insert":
                shift_up(raw, k)
                raw.execute("INSERT INTO ledger (seq, body, hash) VALUES (?, ?, ?)",
                            (k, '{"action":"x","prev_hash":"' + "0" * 64 + '","seq":%d}' % k, "1" * 64))
                expected = k
            else:
                j = data.draw(st.integers(1, n).filter(lambda j: j != k), label="j")
                swap(raw, min(k, j), max(k, j))
                expected = min(k, j)
        batch = data.draw(st.sampled_from([1, 2, 3, 5, chain_pass.BATCH]), label="batch")
        report = ledger.verify(expected_head=head, batch_size=batch)
        ledger._store.close()
        assert not report.ok
        assert report.first_bad_seq == expected, report.problem
        assert report.count == expected - 1
