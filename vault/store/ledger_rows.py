"""Row-level access to the ledger table. The chain (hashing, verification) is vault.ledger's job.

A stored event is ``(seq, body, hash)``: ``body`` is the canonical JSON text that ``hash``
covers; ``at``, ``actor``, ``ceremony_id``, ``action``, ``details`` and ``prev_hash`` are
derived from it by SQLite when read (the view ``ledger_events``; read them through
``LedgerRow``), and events are found by ceremony through an index on the same expression.
"""

from __future__ import annotations

import sqlite3
from itertools import repeat
from typing import Iterable, Iterator

from vault.errors import StoreError
from vault.store.base import StoreBase
from vault.store.records import LedgerRow
from vault.store.schema import LEDGER_CEREMONY_EXPR

_COLS = "seq, at, actor, ceremony_id, action, details, prev_hash, hash"  # of the view ledger_events
_make = LedgerRow._make
_new = tuple.__new__  # builds a LedgerRow from a row tuple without _make's length check


class LedgerRowRepository(StoreBase):
    def ledger_append_rows(self, rows: Iterable[tuple[int, str, str]]) -> int:
        """Insert ``(seq, body, hash)`` rows (chained by vault.ledger) in one transaction; returns how many.

        A seq that already exists means someone appended meanwhile: nothing is written.
        """
        try:
            with self.atomic():
                return self.conn.executemany("INSERT INTO ledger (seq, body, hash) VALUES (?, ?, ?)", rows).rowcount
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"The ledger refused the events ({exc}); another writer may have appended meanwhile.",
                next_step="Retry; if it persists run `custodian ledger verify`.",
            ) from None

    def ledger_bodies(self, start_seq: int = 1, *, batch_size: int = 20_000) -> Iterator[tuple[int, bytes, str]]:
        """``(seq, body as UTF-8 bytes, hash)`` with seq >= start_seq, in seq order, in batches.

        What verification reads: the stored bytes exactly (no decoding, nothing generated).
        """
        return self._batches("SELECT seq, CAST(body AS BLOB), hash FROM ledger WHERE seq >= ? ORDER BY seq LIMIT ?",
                             start_seq, batch_size, None)

    def ledger_body_range(self, start_seq: int, count: int) -> list[tuple[bytes, str]]:
        """``(body as UTF-8 bytes, hash)`` of the events with ``start_seq <= seq < start_seq + count``,
        in seq order, without their seqs: the chain pass's read (vault.chain_pass). seq is the
        INTEGER PRIMARY KEY, so when ``count`` rows come back every seq of the range is there."""
        return self.conn.execute(
            "SELECT CAST(body AS BLOB), hash FROM ledger WHERE seq >= ? AND seq < ? ORDER BY seq",
            (start_seq, start_seq + count)).fetchall()

    def ledger_body_batch(self, start_seq: int, count: int) -> list[tuple[int, bytes, str]]:
        """The first ``count`` ``(seq, body as UTF-8 bytes, hash)`` with seq >= start_seq, in seq order
        (after a gap too): where a range came back short, the chain pass checks every seq."""
        return self.conn.execute(
            "SELECT seq, CAST(body AS BLOB), hash FROM ledger WHERE seq >= ? ORDER BY seq LIMIT ?",
            (start_seq, count)).fetchall()

    def ledger_rows(self, start_seq: int = 1, *, batch_size: int = 20_000) -> Iterator[LedgerRow]:
        """Events with seq >= start_seq in seq order, fetched in batches (constant memory)."""
        return self._batches(f"SELECT {_COLS} FROM ledger_events WHERE seq >= ? ORDER BY seq LIMIT ?",
                             start_seq, batch_size, LedgerRow)

    def _batches(self, sql: str, start_seq: int, batch_size: int, row_type) -> Iterator:
        # Keyset pagination: each batch is its own short query, so no read stays open between
        # batches and the iterator may be abandoned at any point.
        conn, next_seq = self.conn, start_seq
        while True:
            batch = conn.execute(sql, (next_seq, batch_size)).fetchall()
            if not batch:
                return
            if row_type is None:
                yield from batch
            else:
                yield from map(_new, repeat(row_type, len(batch)), batch)
            if len(batch) < batch_size:
                return
            next_seq = batch[-1][0] + 1

    def ledger_last(self) -> LedgerRow | None:
        row = self.conn.execute(f"SELECT {_COLS} FROM ledger_events ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else _make(row)

    def ledger_tail(self) -> tuple[int, str] | None:
        """(seq, hash) of the last event: what an append chains to (nothing decoded)."""
        row = self.conn.execute("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else (row[0], row[1])

    def ledger_row(self, seq: int) -> LedgerRow | None:
        row = self.conn.execute(f"SELECT {_COLS} FROM ledger_events WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else _make(row)

    def ledger_body(self, seq: int) -> bytes | None:
        row = self.conn.execute("SELECT CAST(body AS BLOB) FROM ledger WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else row[0]

    def ledger_rows_of_ceremony(self, ceremony_id: str) -> list[LedgerRow]:
        """The events of one ceremony, for its transcript."""
        # The WHERE clause is the indexed expression itself, so the index is used.
        return [_make(r) for r in self.conn.execute(
            f"SELECT {_COLS} FROM ledger_events WHERE seq IN "
            f"(SELECT seq FROM ledger WHERE {LEDGER_CEREMONY_EXPR} = ?) ORDER BY seq", (ceremony_id,)
        )]

    def ledger_seq_of_hash(self, hash_hex: str) -> int | None:
        """The seq of the event with this hash (a full scan: for a head read from paper)."""
        row = self.conn.execute("SELECT seq FROM ledger WHERE hash = ?", (hash_hex,)).fetchone()
        return None if row is None else row[0]

    def ledger_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
