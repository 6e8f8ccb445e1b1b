"""Real processes, really killed: run ``custodian`` as a subprocess, stop it at a named crash
point (vault.crashpoint: it writes a ready file and SIGSTOPs itself), then SIGKILL it.

``cli(ws, *args)`` runs a command to its end. ``stopped_at(ws, point, *args)`` starts one and
returns it stopped at ``point`` (a ``Stopped`` with ``kill()``); if the process ends without
reaching the point the test fails with its output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from support.ceremony_workspace import REPO

TIMEOUT = 120


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODIAN_CRASH")}
    out["PYTHONPATH"] = str(REPO)
    out.update(extra)
    return out


def command(ws, *args: str) -> list[str]:
    return [sys.executable, "-m", "console.cli", "--home", str(ws.home), *args]


def cli(ws, *args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(command(ws, *args), env=env(), cwd=ws.root, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@dataclass
class Stopped:
    proc: subprocess.Popen
    point: str

    def kill(self) -> None:
        """kill -9, then reap it."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


def stopped_at(ws, point: str, *args: str, timeout: float = TIMEOUT) -> Stopped:
    ready = Path(ws.root) / f".crash-ready-{os.getpid()}-{time.monotonic_ns()}"
    proc = subprocess.Popen(command(ws, *args), env=env(CUSTODIAN_CRASH_POINT=point, CUSTODIAN_CRASH_READY=str(ready)),
                            cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists() and _is_stopped(proc.pid):
            ready.unlink()
            return Stopped(proc, point)
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended (exit {proc.returncode}) before crash point {point!r}:\n"
                                 f"{out}\n{err}")
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    raise AssertionError(f"crash point {point!r} not reached in {timeout} s")


def _is_stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False
