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


@pytest.fixture(scope="session")
def _initialised_template(tmp_path_factory):
    """One initialised PRACTICE home (2-of-3: alice, bob, carol), built headless once per run."""
    from homes import build_initialised_home

    return build_initialised_home(tmp_path_factory.mktemp("initialised"))


@pytest.fixture
def initialised(_initialised_template, tmp_path: Path):
    """A private copy of the initialised home for this test (token directory and database)."""
    from homes import copy_home

    return copy_home(_initialised_template, tmp_path / "home-initialised")


@pytest.fixture
def make_app_on():
    """``make_app_on(home, **kw)``: the console on a given home, fixed clock, fast KDF for enrollments."""
    from console.app import CustodianApp
    from vault.ceremony.context import RunOptions

    def make(home: Path, **kwargs) -> CustodianApp:
        kwargs.setdefault("clock", lambda: FIXED_NOW)
        kwargs.setdefault("ceremony_options", RunOptions(kdf_profile="fast-for-tests"))
        return CustodianApp(home, **kwargs)

    return make
