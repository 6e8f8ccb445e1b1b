"""Row-level access to the ledger table. The chain (hashing, verification) is vault.ledger's job."""

from __future__ import annotations

import sqlite3
from itertools import repeat
from typing import Iterable, Iterator

from vault.errors import StoreError
from vault.store.base import StoreBase
from vault.store.records import LedgerRow

_COLS = "seq, at, actor, ceremony_id, action, details, prev_hash, hash"
_make = LedgerRow._make
_new = tuple.__new__  # builds a LedgerRow from a row tuple without _make's length check


class LedgerRowRepository(StoreBase):
    def ledger_append_rows(self, rows: Iterable[LedgerRow | tuple]) -> int:
        """Insert rows (already chained by vault.ledger) in one transaction; returns how many.

        A seq that already exists means someone appended meanwhile: nothing is written.
        """
        try:
            with self.atomic():
                cur = self.conn.executemany(f"INSERT INTO ledger ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                return cur.rowcount
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"The ledger refused the events ({exc}); another writer may have appended meanwhile.",
                next_step="Retry; if it persists run `custodian ledger verify`.",
            ) from None

    def ledger_rows(self, start_seq: int = 1, *, batch_size: int = 20_000) -> Iterator[LedgerRow]:
        """Rows with seq >= start_seq in seq order, fetched in batches (constant memory).

        Keyset pagination: each batch is its own short query, so no read stays open between
        batches and the iterator may be abandoned at any point.
        """
        conn, sql = self.conn, f"SELECT {_COLS} FROM ledger WHERE seq >= ? ORDER BY seq LIMIT ?"
        next_seq = start_seq
        while True:
            batch = conn.execute(sql, (next_seq, batch_size)).fetchall()
            if not batch:
                return
            yield from map(_new, repeat(LedgerRow, len(batch)), batch)
            if len(batch) < batch_size:
                return
            next_seq = batch[-1][0] + 1

    def ledger_last(self) -> LedgerRow | None:
        row = self.conn.execute(f"SELECT {_COLS} FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else _make(row)

    def ledger_row(self, seq: int) -> LedgerRow | None:
        row = self.conn.execute(f"SELECT {_COLS} FROM ledger WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else _make(row)

    def ledger_rows_of_ceremony(self, ceremony_id: str) -> list[LedgerRow]:
        """The events of one ceremony, for its transcript."""
        return [_make(r) for r in self.conn.execute(
            f"SELECT {_COLS} FROM ledger WHERE ceremony_id = ? ORDER BY seq", (ceremony_id,)
        )]

    def ledger_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
