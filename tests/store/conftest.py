"""Fixtures for the store tests: a real SQLite file per test and a clock that ticks predictably."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vault.store import Store
from vault.types import KeyAlgorithm, Mode, Role


class TickingClock:
    """Starts at a fixed moment and advances one second per reading."""

    def __init__(self, start: datetime = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "custodian.db"


@pytest.fixture
def store(db_path):
    s = Store.open(db_path, clock=TickingClock())
    yield s
    s.close()


@pytest.fixture
def make_custodian(store):
    def make(name: str = "Alice", role: Role = Role.CUSTODIAN, ceremony_id: str | None = None):
        return store.add_custodian(
            name, role, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
            "ab" * 32, {"algorithm": "argon2id", "memory_cost": 65536}, "bm9uY2UrY2lwaGVydGV4dA==",
            ceremony_id=ceremony_id,
        )
    return make


@pytest.fixture
def make_ceremony(store):
    counter = iter(range(1, 10_000))

    def make(name: str = "init", mode: Mode = Mode.PRACTICE):
        return store.start_ceremony(
            f"2026-05-01-{name}-{next(counter)}", definition_name=name, definition_sha256="0" * 64, mode=mode,
        )
    return make


@pytest.fixture
def make_key(store):
    counter = iter(range(1, 10_000))

    def make(label: str | None = None, **kw):
        n = next(counter)
        kw.setdefault("cka_id", f"{n:016x}")
        kw.setdefault("algorithm", KeyAlgorithm.AES_256)
        kw.setdefault("fingerprint", "kcv:abcdef")
        kw.setdefault("token_serial", "0a1b2c3d")
        kw.setdefault("actor", "alice")
        return store.add_key(label or f"key-{n}", **kw)
    return make
