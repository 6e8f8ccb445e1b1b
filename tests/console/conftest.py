"""Fixtures for the console's tests: a PRACTICE home in tmp_path (real SoftHSM, real SQLite)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

FIXED_NOW = datetime(2026, 5, 1, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def practice_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def make_app(practice_home: Path):
    from console.app import CustodianApp

    def make(**kwargs) -> CustodianApp:
        kwargs.setdefault("clock", lambda: FIXED_NOW)
        return CustodianApp(practice_home, **kwargs)

    return make
