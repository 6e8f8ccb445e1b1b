"""Process and file hygiene: no core dump, no ptrace attachment, and every file the console
writes readable by its owner only (the home 0700; the database, its WAL and SHM files,
bundles, share files, signatures and transcripts 0600)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support.ceremony_workspace import REPO, Workspace

_CHILD = """
import json, sys
from console.cli import main
code = main(sys.argv[1:])
from vault.process import process_state
state = process_state()
limits = open("/proc/self/limits").read().splitlines()
core = [l for l in limits if l.startswith("Max core file size")][0].split()[4:6]
print(json.dumps({"code": code, "rlimit_core": state["rlimit_core"], "dumpable": state["dumpable"],
                  "proc_core": core, "umask": __import__("os").umask(0)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_DUMPABLE is Linux")
@pytest.mark.parametrize("argv", [["--version"], ["--home", "/nonexistent-home", "doctor"], ["keys"]],
                         ids=["version", "failing-command", "usage-error"])
def test_custodian_disables_core_dumps_and_ptrace_before_anything_else(argv):
    done = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, stdin=subprocess.DEVNULL)
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["rlimit_core"] == [0, 0]
    assert state["proc_core"] == ["0", "0"]  # as the kernel sees it
    assert state["dumpable"] == 0  # ptrace by other processes of this user refused, no core either
    assert state["umask"] == 0o077


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws", monkeypatch)


def test_every_file_the_console_writes_is_private(ws: Workspace, capsys):
    from console.cli import main as custodian

    os.umask(0o022)  # the permissions must not depend on the caller's umask
    assert custodian(["--home", str(ws.home), "home", "init"]) == 0
    os.umask(0o022)
    ws.replay("backup")
    with ws.vault() as v:  # the WAL and SHM files exist while the database is open
        cid = v.store.list_ceremonies()[-1].id
        v.ledger.append("test.marker", {}, actor="test")
        wal, shm = Path(f"{v.home.db_path}-wal"), Path(f"{v.home.db_path}-shm")
        assert wal.exists() and shm.exists()
        assert (_mode(v.home.db_path), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
    assert custodian(["--home", str(ws.home), "transcript", cid, "--format", "json",
                      "--out", str(ws.root / "media" / "t.json")]) == 0
    assert _mode(ws.home) == 0o700
    for d in ("logs", "pending-outputs"):
        if (ws.home / d).exists():
            assert _mode(ws.home / d) == 0o700, d
    written = [*ws.root.glob("shares/*.share"), *ws.root.glob("media/*.ccb"), ws.root / "media" / "payload.sig",
               ws.root / "media" / "t.json", ws.home / "custodian.toml", ws.home / "custodian.db"]
    assert len(written) >= 9
    assert {str(p.relative_to(ws.root)): _mode(p) for p in written} == {
        str(p.relative_to(ws.root)): 0o600 for p in written}


def test_the_database_is_private_whatever_the_umask(tmp_path):
    from vault.store import Store

    old = os.umask(0o022)
    try:
        store = Store.open(tmp_path / "c.db")
        store.set_setting("k", "v")
        modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
        store.close()
    finally:
        os.umask(old)
    assert modes and set(modes.values()) == {0o600}, modes
