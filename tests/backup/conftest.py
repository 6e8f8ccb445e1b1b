"""Fixtures for backup-format tests (builders live in bundle_builders.py, a unique module name)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bundle_builders import make_entry, make_header

from vault.backup.format import KeyEntry, write_bundle
from vault.secret import Secret


@pytest.fixture
def mac_key() -> Secret:
    return Secret(os.urandom(32), "bundle-mac-key")


@pytest.fixture
def small_bundle(tmp_path, mac_key) -> tuple[Path, list[KeyEntry]]:
    """Header + 4 keys + trailer = 6 lines."""
    entries = [make_entry(i) for i in range(4)]
    path = tmp_path / "small.ccb"
    write_bundle(path, make_header(len(entries)), entries, mac_key)
    return path, entries
