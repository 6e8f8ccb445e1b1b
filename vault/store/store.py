"""``Store``: opening the one database file, migrating it, checking it, closing it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from vault.errors import SchemaError, StoreError
from vault.store.audit import AuditRepository
from vault.store.ceremonies import CeremonyRepository
from vault.store.certs import CertificateRepository
from vault.store.clock import Clock, utc_now
from vault.store.keys import KeyRepository
from vault.store.ledger_rows import LedgerRowRepository
from vault.store.people import PeopleRepository
from vault.store.schema import LATEST_VERSION, MIGRATIONS, Migration
from vault.store.settings import SettingsRepository
from vault.store.snapshot import SnapshotRepository
from vault.store.transport import TransportRepository

BUSY_TIMEOUT_SECONDS = 10.0


class Store(PeopleRepository, KeyRepository, CeremonyRepository, LedgerRowRepository, SettingsRepository,
            CertificateRepository, TransportRepository, SnapshotRepository, AuditRepository):
    """The console's metadata and ledger in one SQLite file. See ``vault.store`` for the API."""

    def __init__(self, db: Database, path: Path, clock: Clock) -> None:  # use Store.open
        self.db = db
        self.path = path
        self._clock = clock

    @classmethod
    def open(cls, path: Path | str, *, clock: Clock = utc_now, migrations: tuple[Migration, ...] = MIGRATIONS) -> "Store":
        """Open (creating if needed) and migrate the database; WAL, foreign keys on.

        ``migrations`` is for tests of the migration machinery only.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise StoreError(f"The folder for the database, {path.parent}, does not exist.",
                             next_step="Create the console home first (`custodian home init`).")
        _create_private(path)
        try:
            # isolation_level=None: the driver opens no implicit transactions; atomic() is the
            # only way a transaction starts. check_same_thread stays True: the owning thread.
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the database {path}: {exc}.",
                             next_step="Check the path and its permissions.") from None
        try:
            db = Database(conn, execute_plugins=False)
            _configure(db, path)
            store = cls(db, path, clock)
            store._migrate(migrations)
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def integrity_check(self) -> list[str]:
        """Problems found by ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``; [] = healthy.

        This checks the file, not the ledger chain: use ``vault.ledger.Ledger.verify`` for that.
        """
        problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall() if r[0] != "ok"]
        for table, rowid, parent, _fk in self.conn.execute("PRAGMA foreign_key_check").fetchall():
            problems.append(f"foreign key: {table} row {rowid} refers to a missing {parent} row")
        return problems

    def _migrate(self, migrations: tuple[Migration, ...]) -> None:
        latest = len(migrations)
        current = self.schema_version
        if current > latest:
            raise SchemaError(
                f"The database {self.path} has schema version {current}; this console understands up to "
                f"version {latest}.",
                next_step="Use the newer console version that wrote it; never downgrade a vault database.",
            )
        for migration in migrations[current:]:
            if migration.version != self.schema_version + 1:
                raise SchemaError(f"Migration {migration.version} is out of order.",
                                  next_step="This is a bug in the console; report it.")
            try:
                with self.atomic():
                    # Re-read inside the transaction: another process may have migrated meanwhile.
                    if self.schema_version >= migration.version:
                        continue
                    for statement in migration.statements:
                        self.conn.execute(statement)
                    self.conn.execute(f"PRAGMA user_version = {migration.version:d}")
            except sqlite3.Error as exc:
                raise SchemaError(
                    f"Upgrading {self.path} to schema version {migration.version} ({migration.description}) "
                    f"failed: {exc}. Nothing was changed.",
                    next_step="Keep the database as it is and report this; the previous console version still opens it.",
                ) from None


def _create_private(path: Path) -> None:
    """Create a new database file 0600 before SQLite opens it: SQLite gives its -wal and -shm
    files the database file's permissions, so all three stay readable by their owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"Cannot create the database {path}: {exc.strerror or exc}.",
                         next_step="Check the console home's permissions.") from None
    os.close(fd)


def _configure(db: Database, path: Path) -> None:
    try:
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL: a crash loses no committed page
        db.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a usable console database ({exc}).",
                         next_step="Check the path; restore the database from the last copy if it is damaged.") from None
    if db.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        raise StoreError("SQLite refused to enforce foreign keys.", next_step="Use a standard SQLite build.")


__all__ = ["Store", "LATEST_VERSION"]
