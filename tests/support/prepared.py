"""Prepared practice workspaces: built once per test session, copied for every test.

Replaying init and a few key ceremonies costs seconds; tests that only need the state they
leave (a vault with keys and a backup) start from a copy instead. A copy is a real home: its
SQLite file, its SoftHSM token directory (copying a token directory clones the token, same
serial) and the share files and bundles next to it. Paths recorded in the database (bundle
paths) still name the golden copy, which no test changes; tests that need recorded paths to
resolve run their own ceremonies.

``prepared(tmp_path_factory, name, build) -> Path``: the golden directory of ``name``, built on
first use by ``build(ws: Workspace)``. ``clone(golden, root, monkeypatch) -> Workspace``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from support.ceremony_workspace import Workspace

_built: dict[str, Path] = {}


def prepared(tmp_path_factory, name: str, build: Callable[[Workspace], None]) -> Path:
    if name not in _built:
        root = tmp_path_factory.mktemp(f"golden-{name}")
        with pytest.MonkeyPatch.context() as mp:
            ws = Workspace(root / "ws", mp)
            build(ws)
        _built[name] = ws.root
    return _built[name]


def clone(golden: Path, root: Path, monkeypatch) -> Workspace:
    shutil.copytree(golden, root, symlinks=True)
    return Workspace(root, monkeypatch)
