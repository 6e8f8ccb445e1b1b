"""Fixtures for ceremony tests on real SoftHSM tokens and real SQLite files.

``ws``: a practice workspace in ``tmp_path`` holding a copy of ceremonies/examples/ and the
console home (tests/support/ceremony_workspace.py). Nothing is mocked: every run initialises
and uses SoftHSM tokens under the workspace's home.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `from support import ...`

from support.ceremony_workspace import Workspace  # noqa: E402
from vault.hsm import PRACTICE_MODULE  # noqa: E402


@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Workspace:
    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    return Workspace(tmp_path / "ws", monkeypatch)
