"""Opening, migrating and checking the database file (real SQLite files only)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from vault.errors import RecordNotFound, SchemaError, StoreError
from vault.store import LATEST_VERSION, Store
from vault.store.schema import MIGRATIONS, Migration

TABLES = {
    "ceremonies", "custodians", "quorum_policies", "share_sets", "share_holders", "keys", "key_state_history",
    "backups", "backup_keys", "ceremony_steps", "attestations", "deviations", "drills", "settings", "ledger",
}


def _tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_fresh_database_is_at_the_latest_version_with_wal_and_foreign_keys(store, db_path):
    assert store.schema_version == LATEST_VERSION == len(MIGRATIONS)
    assert TABLES <= _tables(store.conn)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db_path.exists()
    assert store.integrity_check() == []


def test_opening_twice_is_idempotent_and_keeps_data(db_path, make_custodian, store):
    make_custodian("Alice")
    schema_before = store.conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    store.close()
    for _ in range(2):
        again = Store.open(db_path)
        assert again.schema_version == LATEST_VERSION
        assert again.conn.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema_before
        assert [c.name for c in again.list_custodians()] == ["Alice"]
        again.close()


def test_two_open_stores_on_one_file_see_each_others_commits(db_path, store, make_custodian):
    other = Store.open(db_path)
    try:
        make_custodian("Alice")
        assert other.get_custodian("alice").name == "Alice"
    finally:
        other.close()


def test_a_database_from_a_newer_console_is_refused_clearly(db_path, store):
    store.close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaError) as info:
        Store.open(db_path)
    assert f"schema version {LATEST_VERSION + 1}" in str(info.value)
    assert f"up to version {LATEST_VERSION}" in str(info.value)
    assert "newer console" in info.value.next_step


def test_a_later_migration_upgrades_an_existing_database_and_keeps_its_rows(db_path, store, make_custodian):
    make_custodian("Alice")
    store.close()
    v2 = Migration(len(MIGRATIONS) + 1, "custodian phone", ("ALTER TABLE custodians ADD COLUMN phone TEXT",))
    upgraded = Store.open(db_path, migrations=MIGRATIONS + (v2,))
    try:
        assert upgraded.schema_version == v2.version
        assert upgraded.conn.execute("SELECT name, phone FROM custodians").fetchall() == [("Alice", None)]
    finally:
        upgraded.close()


def test_a_failing_migration_changes_nothing(db_path, store):
    store.close()
    bad = Migration(len(MIGRATIONS) + 1, "broken", ("CREATE TABLE half_done (a)", "INSERT INTO no_such_table VALUES (1)"))
    with pytest.raises(SchemaError) as info:
        Store.open(db_path, migrations=MIGRATIONS + (bad,))
    assert "Nothing was changed" in str(info.value)
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST_VERSION
    assert "half_done" not in _tables(raw)
    raw.close()


def test_a_fresh_file_that_fails_migration_1_is_left_empty(tmp_path):
    path = tmp_path / "x.db"
    with pytest.raises(SchemaError):
        Store.open(path, migrations=(Migration(1, "broken", ("CREATE TABLE t (a)", "SELECT * FROM nope")),))
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 0
    assert _tables(raw) == set()
    raw.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "custodian.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as info:
        Store.open(path)
    assert "not a usable console database" in str(info.value)


def test_a_missing_folder_is_refused_with_a_next_step(tmp_path):
    with pytest.raises(StoreError) as info:
        Store.open(tmp_path / "nope" / "custodian.db")
    assert "home" in info.value.next_step


def test_foreign_keys_are_enforced(store, make_ceremony):
    with pytest.raises(RecordNotFound):
        store.add_share_holder(999, 999, group_index=0, member_index=0, commitment="c")
    with pytest.raises(RecordNotFound):
        store.add_custodian("Bob", "custodian", "pem", "v", {}, b"k", ceremony_id="no-such-ceremony")


def test_integrity_check_reports_a_dangling_reference(db_path, store):
    raw = sqlite3.connect(db_path)  # foreign keys are off by default on a raw connection
    raw.execute("INSERT INTO share_holders (share_set_id, custodian_id, group_index, member_index, commitment) "
                "VALUES (41, 42, 0, 0, 'c')")
    raw.commit()
    raw.close()
    problems = store.integrity_check()
    assert problems and all("foreign key: share_holders" in p for p in problems)


def test_the_connection_belongs_to_the_thread_that_opened_it(store):
    errors = []

    def use():
        try:
            store.list_custodians()
        except sqlite3.ProgrammingError as exc:
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert errors and "thread" in str(errors[0])


def test_no_column_could_hold_a_share_pin_or_secret(store):
    suspicious = ("pin", "mnemonic", "secret", "plaintext", "share_text", "password", "key_bytes", "kek_bytes")
    for (table,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
        for column in store.conn.execute(f"PRAGMA table_info({table})").fetchall():
            name = column[1]
            assert not any(word in name.split("_") or name == word for word in suspicious), (table, name)


def test_ledger_table_refuses_update_and_delete_even_through_sqlite_utils(store):
    store.conn.execute("INSERT INTO ledger (seq, body, hash) VALUES (1, '{\"actor\":\"a\"}', 'h')")
    assert store.ledger_row(1).actor == "a"  # the named columns are generated from the body
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE ledger SET body = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("DELETE FROM ledger")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db["ledger"].delete(1)
