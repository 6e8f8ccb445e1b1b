"""tpm2-pkcs11 on the swtpm simulator, for the probe's third module (optional: not installed by
scripts/setup.sh; the test skips with the reason when the packages are missing).

Everything lives in one temporary directory: the simulator's state, the PKCS#11 store, a
private D-Bus session bus and the resource manager (tpm2-abrmd, without which the TPM's three
transient object slots fill up). Ports are picked free; every process is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

BINARIES = ("swtpm", "dbus-daemon", "dbus-send", "tpm2-abrmd")


def module_path() -> str | None:
    for candidate in sorted(Path("/usr/lib").glob("*/libtpm2_pkcs11.so.1")):
        return str(candidate)
    return None


def unavailable() -> str | None:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing or module_path() is None:
        return ("tpm2-pkcs11 on swtpm is not installed (optional third module: apt-get install swtpm "
                "libtpm2-pkcs11-1 libtss2-tcti-swtpm0 tpm2-abrmd libtss2-tcti-tabrmd0 dbus)")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_bus_name(bus: str, name: str, timeout: float = 20.0) -> None:
    """Until tpm2-abrmd has registered on the session bus (the module fails to load before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["dbus-send", f"--bus={bus}", "--dest=org.freedesktop.DBus", "--print-reply",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames"],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
        if name in out.stdout:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not appear on the test's session bus")


@contextlib.contextmanager
def simulator(root: Path) -> Iterator[dict[str, str]]:
    """Start swtpm, a session bus and tpm2-abrmd under ``root``; yield the client environment."""
    state, store = root / "state", root / "store"
    state.mkdir(parents=True)
    store.mkdir()
    port = _free_port()
    ctrl = port + 1  # the swtpm TCTI finds the control channel at port + 1
    pids: list[int] = []
    try:
        subprocess.run(["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}", "--server",
                        f"type=tcp,port={port},bindaddr=127.0.0.1", "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
                        "--flags", "not-need-init,startup-clear", "--daemon", "--pid", f"file={root / 'swtpm.pid'}"],
                       check=True, stdin=subprocess.DEVNULL, timeout=30)
        pids.append(int((root / "swtpm.pid").read_text()))
        bus = f"unix:path={root / 'bus.sock'}"
        out = subprocess.run(["dbus-daemon", "--session", "--fork", f"--address={bus}", "--print-pid"],
                             check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
        pids.append(int(out.stdout.split()[0]))
        env = {"DBUS_SESSION_BUS_ADDRESS": bus, "TPM2_PKCS11_TCTI": "tabrmd:bus_type=session",
               "TPM2_PKCS11_STORE": str(store), "TPM2_PKCS11_LOG_LEVEL": "0"}
        abrmd = subprocess.Popen(["tpm2-abrmd", "--session", "--allow-root", f"--tcti=swtpm:host=127.0.0.1,port={port}"],
                                 env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                 stdout=open(root / "abrmd.log", "w"), stderr=subprocess.STDOUT)
        pids.append(abrmd.pid)
        _wait_for_bus_name(bus, "com.intel.tss2.Tabrmd")
        yield env
    finally:
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
