"""What every repository mixin shares: the one connection, the clock, transactions, error mapping."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any, Iterator, Sequence

from sqlite_utils import Database

from vault.errors import RecordExists, RecordNotFound, StoreError
from vault.store.clock import Clock, iso


class StoreBase:
    """Holds the sqlite-utils ``Database`` and its connection; the mixins add named operations."""

    db: Database
    _clock: Clock

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    @contextlib.contextmanager
    def atomic(self) -> Iterator["StoreBase"]:
        """One transaction (a SAVEPOINT when nested): every change inside commits or none does.

        Wraps sqlite-utils' ``db.atomic()``; ``with conn:`` is *not* a transaction in 4.x.
        """
        with self.db.atomic():
            yield self

    def now(self) -> str:
        return iso(self._clock())

    # --- small helpers for the mixins -------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    def _row(self, sql: str, params: Sequence[Any], missing: str) -> tuple:
        row = self.conn.execute(sql, params).fetchone()
        if row is None:
            raise RecordNotFound(missing)
        return row

    def _write(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    @contextlib.contextmanager
    def _refusals(self, *, exists: str | None = None, missing: str | None = None) -> Iterator[None]:
        """Turn constraint failures into vault errors with a message that names the record.

        Use *outside* ``atomic()`` so the rollback has happened before the error is raised.
        """
        try:
            yield
        except sqlite3.IntegrityError as exc:
            text = str(exc)
            if exists and text.startswith("UNIQUE constraint failed"):
                raise RecordExists(exists) from None
            if missing and text.startswith("FOREIGN KEY constraint failed"):
                raise RecordNotFound(missing) from None
            # The constraint text names tables and columns, never values: safe to show.
            raise StoreError(f"The database refused the change: {text}.") from None
