"""Schema v2 of the ledger table: (seq, body, hash) only, named columns in the view
``ledger_events``, events found by ceremony through an index on the body's ceremony_id.
A v1 database keeps every event, its chain and its lookups through the upgrade."""

from __future__ import annotations

import sqlite3

from vault.ledger import Ledger
from vault.store import LedgerHead, Store
from vault.store.schema import MIGRATIONS


def test_a_v1_ledger_upgrades_with_every_event_and_its_chain(tmp_path):
    path = tmp_path / "v1.db"
    with Store.open(path, migrations=MIGRATIONS[:1]) as old:
        ledger = Ledger(old)
        ledger.append("home.created", {}, actor="console")
        ledger.append_many([("a", {"n": 1}), ("b", {"ü": "ß"})], actor="alice", ceremony_id="c-1")
        ledger.append("c", {"x": None}, actor="bob", ceremony_id="c-2")
        # (this console reads named columns from the v2 view: read the v1 generated columns raw)
        before = old.conn.execute(
            "SELECT seq, at, actor, ceremony_id, action, details, prev_hash, hash FROM ledger ORDER BY seq").fetchall()
        head = LedgerHead(*old.ledger_tail())
        assert old.schema_version == 1
    with Store.open(path) as new:
        ledger = Ledger(new)
        assert new.schema_version == len(MIGRATIONS) >= 2
        assert [tuple(r) for r in new.ledger_rows()] == before  # every named column, as before
        report = ledger.verify(expected_head=head)
        assert report.ok and report.count == 4
        assert [e.action for e in ledger.events_of("c-1")] == ["a", "b"]
        assert ledger.append("d", {}, actor="alice", ceremony_id="c-1").prev_hash == head.hash_hex
        assert [e.seq for e in ledger.events_of("c-1")] == [2, 3, 5] and ledger.verify().ok
        columns = [r[1] for r in new.conn.execute("PRAGMA table_xinfo(ledger)")]
        assert columns == ["seq", "body", "hash"]  # nothing else is computed on an append
        plan = " ".join(r[3] for r in new.conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM ledger_events WHERE ceremony_id = 'c-1'"))
        assert "ledger_ceremony" in plan
        assert new.integrity_check() == []


def test_the_upgraded_table_is_still_append_only(tmp_path):
    path = tmp_path / "v1.db"
    with Store.open(path, migrations=MIGRATIONS[:1]) as old:
        Ledger(old).append("a", {}, actor="x")
    with Store.open(path) as new:
        assert new.ledger_tail() == (1, new.ledger_row(1).hash)
    raw = sqlite3.connect(path)
    try:
        for sql in ("UPDATE ledger SET body = '{}'", "DELETE FROM ledger"):
            try:
                raw.execute(sql)
            except sqlite3.IntegrityError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{sql} was allowed")
    finally:
        raw.close()
