"""The whole database as snapshot records and back (what a bundle of format 2 or later carries).

Round trips are compared table by table with raw SQL; the refusals write nothing.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from vault.errors import StoreError
from vault.ledger import Ledger
from vault.store import Store
from vault.store.records import LedgerHead
from vault.store.schema import MIGRATIONS

FIXTURE = Path(__file__).parent / "fixtures" / "main-schema-v2.db"


def _rows(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        conn.close()


def _copy_of_fixture(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    return path


def test_a_snapshot_loads_into_a_new_database_row_for_row(tmp_path, store, make_custodian):
    make_custodian("Alice")
    ledger = Ledger(store)
    for i in range(5):
        ledger.append("test.event", {"i": i, "text": "naïve ✓"}, actor="tester")
    records = list(store.snapshot_records(ledger.head().seq))
    assert isinstance(records[0], dict) and records[-1]["end"]["rows"] > 0
    target = Store.open(tmp_path / "new.db")
    try:
        counts = target.load_snapshot(records)
        assert counts["custodians"] == 1 and counts["ledger"] == 5
        assert Ledger(target).verify(expected_head=ledger.head()).ok
    finally:
        target.close()
    assert _rows(tmp_path / "new.db") == _rows(store.path)


def test_the_ledger_stops_at_the_named_event(tmp_path, store):
    ledger = Ledger(store)
    for i in range(4):
        ledger.append("test.event", {"i": i}, actor="tester")
    records = list(store.snapshot_records(2))
    target = Store.open(tmp_path / "new.db")
    try:
        target.load_snapshot(records)
        assert target.ledger_count() == 2
    finally:
        target.close()


def test_an_older_schema_loads_at_its_version_and_migrates(tmp_path):
    old = Store.open(_copy_of_fixture(tmp_path), migrations=MIGRATIONS[:2])
    try:
        assert old.schema_version == 2
        records = list(old.snapshot_records(Ledger(old).head().seq))
    finally:
        old.close()
    new = Store.open(tmp_path / "new.db", migrations=MIGRATIONS[:2])
    try:
        new.load_snapshot(records)
    finally:
        new.close()
    (tmp_path / "direct").mkdir()
    migrated_directly = Store.open(_copy_of_fixture(tmp_path / "direct"))
    rebuilt = Store.open(tmp_path / "new.db")
    try:
        assert rebuilt.schema_version == len(MIGRATIONS)
        assert [k.label for k in rebuilt.list_keys()] == [k.label for k in migrated_directly.list_keys()]
        assert Ledger(rebuilt).verify().ok
    finally:
        rebuilt.close()
        migrated_directly.close()


def _refused(tmp_path: Path, records, phrase: str) -> None:
    target = Store.open(tmp_path / f"refused-{len(list(tmp_path.iterdir()))}.db")
    try:
        with pytest.raises(StoreError, match=phrase):
            target.load_snapshot(records)
        assert target.is_empty()
    finally:
        target.close()


def test_bad_snapshots_are_refused_and_write_nothing(tmp_path, store, make_custodian):
    make_custodian("Alice")
    Ledger(store).append("test.event", {}, actor="tester")
    good = list(store.snapshot_records(1))
    _refused(tmp_path, good[:-1], "no end record")
    _refused(tmp_path, good[:-1] + [{"end": {"tables": 1, "rows": 1}}], "incomplete")
    _refused(tmp_path, [good[0], {"table": "nope", "columns": []}, *good[1:]], "table 'nope'")
    wrong_schema = {**good[0], "schema_version": 1}
    _refused(tmp_path, [wrong_schema, *good[1:]], "schema version")
    custodians = next(i for i, r in enumerate(good) if isinstance(r, dict) and r.get("table") == "custodians")
    bad_row = list(good)
    bad_row[custodians + 1] = bad_row[custodians + 1][:-1]
    _refused(tmp_path, bad_row, "values in table custodians")


def test_a_database_in_use_is_not_overwritten(store, make_custodian):
    make_custodian("Alice")
    records = list(store.snapshot_records(0))
    with pytest.raises(StoreError, match="already holds rows"):
        store.load_snapshot(records)
    assert len(store.list_custodians(status=None)) == 1


def test_a_row_that_breaks_a_reference_is_refused_at_the_commit(tmp_path, store, make_custodian):
    c = make_custodian("Alice")
    store.add_share_set("s", identifier=1, group_threshold=1, groups=((2, 3),), iteration_exponent=0,
                        passphrase=False, commitment_salt="00" * 16, check_value="00" * 16)
    holder_table = None
    records = list(store.snapshot_records(0))
    # point a custodian's enrolment at a ceremony that is not there
    for i, r in enumerate(records):
        if isinstance(r, dict) and r.get("table"):
            holder_table = r
        elif holder_table and holder_table["table"] == "custodians":
            row = list(r)
            row[holder_table["columns"].index("enrolled_ceremony_id")] = "no-such-ceremony"
            records[i] = row
    assert c is not None
    _refused(tmp_path, records, "does not fit")
