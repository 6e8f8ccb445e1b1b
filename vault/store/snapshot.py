"""The whole database as a stream of JSON records, and back into a new, empty database.

What a backup carries so that the vault survives losing its machine (docs/backup-format.md,
section "Vault metadata"): every row of every table (custodians, share sets and holders, key
names, key records with their versions, purposes, dates and history, backups, ceremonies and
their journals, certificates, transport pins, settings) and the ledger up to a given event.

The stream (``snapshot_records``) is, in order:

* ``{"snapshot": 1, "schema_version": V, "ledger_seq": S}``
* per table: ``{"table": NAME, "columns": [...]}`` then one JSON array per row, in rowid (or
  primary key) order. A BLOB value is ``{"b64": "<base64>"}``; every other SQLite value is its
  JSON self. The ledger is given as ``(seq, body)`` only: each hash is SHA-256 of its body and
  is recomputed on load, then the whole chain is verified by ``vault.ledger``. An event whose
  body ends as every honest one does, with ``,"prev_hash":"<the previous event's hash>","seq":N}``
  (N = the previous seq + 1), is given in the short form ``[body without that ending]``: the
  ending is derived again on load (the hash it holds is 64 digits no compressor can shrink).
* ``{"end": {"tables": T, "rows": R}}``

Memory stays flat: rows are read ``PAGE`` at a time. ``load_snapshot`` writes into a database
that holds no row at all, at the snapshot's schema version, in one transaction (foreign keys
deferred to the commit, which checks them); anything wrong and nothing is written.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterable, Iterator
from hashlib import sha256
from typing import Any

from vault.errors import StoreError
from vault.store.base import StoreBase

SNAPSHOT_FORMAT = 1
PAGE = 2_000
#: Tables whose rows another table's INSERT trigger needs (keys_named: a key needs its name).
_FIRST = ("ceremonies", "key_names")
#: The ledger's own columns in a snapshot: its hash is derived, not carried.
_LEDGER_COLUMNS = ["seq", "body"]


def _tables(conn: sqlite3.Connection) -> list[tuple[str, bool]]:
    """(name, without_rowid) of every table, in creation order, the ones triggers need first."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY rowid").fetchall()
    found = [(name, "WITHOUT ROWID" in (sql or "").upper()) for name, sql in rows]
    first = [t for name in _FIRST for t in found if t[0] == name]
    return first + [t for t in found if t[0] not in _FIRST]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    if table == "ledger":
        return list(_LEDGER_COLUMNS)
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")').fetchall()]


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise ValueError("a value object must be {\"b64\": ...}")
        return base64.b64decode(value["b64"], validate=True)
    if isinstance(value, list):
        raise ValueError("a column value cannot be a list")
    return value


def _ledger_ending(prev: str, seq: int) -> str:
    return f',"prev_hash":"{prev}","seq":{seq}}}'


def _short_ledger(conn: sqlite3.Connection, ledger_seq: int) -> Iterator[list]:
    prev, expected = "0" * 64, 1
    cursor = conn.execute("SELECT seq, body, hash FROM ledger WHERE seq <= ? ORDER BY seq", (ledger_seq,))
    while batch := cursor.fetchmany(PAGE):
        for seq, body, digest in batch:
            ending = _ledger_ending(prev, seq)
            yield [body[: -len(ending)]] if seq == expected and body.endswith(ending) else [seq, body]
            prev, expected = digest, seq + 1


class SnapshotRepository(StoreBase):
    def snapshot_records(self, ledger_seq: int, *, blobs: bool = False) -> Iterator[dict | list]:
        """Every row (the ledger up to ``ledger_seq``) as described above; call inside one transaction.

        ``blobs=True``: a BLOB value stays ``bytes`` (for a consumer that encodes whole columns,
        vault.backup.columnar), and a row may then be a tuple."""
        conn = self.conn
        yield {"snapshot": SNAPSHOT_FORMAT, "schema_version": self.schema_version, "ledger_seq": ledger_seq}
        tables = rows = 0
        for table, without_rowid in _tables(conn):
            columns = _columns(conn, table)
            yield {"table": table, "columns": columns}
            tables += 1
            names = ", ".join(f'"{c}"' for c in columns)
            if table == "ledger":
                for row in _short_ledger(conn, ledger_seq):
                    rows += 1
                    yield row
                continue
            else:
                order = "" if without_rowid else " ORDER BY rowid"
                sql, params = f'SELECT {names} FROM "{table}"{order}', ()
            cursor = conn.execute(sql, params)
            while batch := cursor.fetchmany(PAGE):
                rows += len(batch)
                if blobs:
                    yield from batch
                else:
                    for row in batch:
                        yield [_encode(v) for v in row]
        yield {"end": {"tables": tables, "rows": rows}}

    def is_empty(self, *, besides: tuple[str, ...] = ()) -> bool:
        """True when no table (but those named in ``besides``) holds a row: a database just created."""
        return not any(self.conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()
                       for t, _ in _tables(self.conn) if t not in besides)

    def load_snapshot(self, records: Iterable[dict | list]) -> dict[str, int]:
        """Write a snapshot into this empty database (same schema version); returns rows per table.

        Raises ``StoreError`` naming the problem (not empty, another schema version, an unknown
        table or column, a bad row, a broken reference) and writes nothing then."""
        if not self.is_empty():
            raise StoreError("The database already holds rows; vault metadata is loaded only into a new one.",
                             next_step="Rebuild into a new console home.")
        it = iter(records)
        head = next(it, None)
        if not isinstance(head, dict) or head.get("snapshot") != SNAPSHOT_FORMAT:
            raise StoreError("The vault metadata does not start with a snapshot record.")
        if head.get("schema_version") != self.schema_version:
            raise StoreError(f"The vault metadata has schema version {head.get('schema_version')!r}; this database "
                             f"is at {self.schema_version}.")
        known = {t: _columns(self.conn, t) for t, _ in _tables(self.conn)}
        counts: dict[str, int] = {}
        try:
            with self.atomic():
                self.conn.execute("PRAGMA defer_foreign_keys = ON")  # checked at the commit
                self._load_tables(it, known, counts)
        except sqlite3.Error as exc:
            raise StoreError(f"The vault metadata does not fit the database: {exc}; nothing was written.") from None
        return counts

    def _load_tables(self, it: Iterator, known: dict[str, list[str]], counts: dict[str, int]) -> None:
        table: str | None = None
        sql, batch, total = "", [], 0
        prev, last_seq = "0" * 64, 0  # the ledger's chain, for its short rows

        def flush() -> None:
            if batch:
                self.conn.executemany(sql, batch)
                batch.clear()

        for record in it:
            if isinstance(record, list):
                if table is None:
                    raise StoreError("The vault metadata has a row before its table.")
                if table == "ledger" and len(record) == 1 and isinstance(record[0], str):
                    last_seq += 1
                    record = [last_seq, record[0] + _ledger_ending(prev, last_seq)]
                try:
                    values = [_decode(v) for v in record]
                except (ValueError, TypeError) as exc:
                    raise StoreError(f"The vault metadata has a bad row in table {table}: {exc}.") from None
                if len(values) != len(known[table]):
                    raise StoreError(f"The vault metadata has a row of {len(values)} values in table {table}, "
                                     f"which has {len(known[table])} columns.")
                if table == "ledger":
                    seq, body = values
                    if not isinstance(body, str):
                        raise StoreError("The vault metadata has a ledger event that is not text.")
                    if not isinstance(seq, int):
                        raise StoreError("The vault metadata has a ledger event without a sequence number.")
                    prev, last_seq = sha256(body.encode("utf-8")).hexdigest(), seq
                    values = [seq, body, prev]
                batch.append(values)
                counts[table] += 1
                total += 1
                if len(batch) >= PAGE:
                    flush()
                continue
            flush()
            if not isinstance(record, dict):
                raise StoreError("The vault metadata holds a record that is neither a table nor a row.")
            if "end" in record:
                end = record["end"]
                if end != {"tables": len(counts), "rows": total}:
                    raise StoreError(f"The vault metadata ends with {end!r} but held {len(counts)} tables and "
                                     f"{total} rows: it is incomplete.")
                if next(it, None) is not None:
                    raise StoreError("The vault metadata continues after its end record.")
                return
            table = record.get("table")
            if table not in known or table in counts:
                raise StoreError(f"The vault metadata names table {table!r}, which this database does not have "
                                 "(or names it twice).")
            if record.get("columns") != known[table]:
                raise StoreError(f"The vault metadata's columns of table {table} are not this database's.")
            counts[table] = 0
            columns = known[table] + (["hash"] if table == "ledger" else [])
            names = ", ".join(f'"{c}"' for c in columns)
            sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        raise StoreError("The vault metadata has no end record: it is incomplete.")
