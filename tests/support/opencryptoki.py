"""opencryptoki's software token (swtok) as the second real PKCS#11 module of the tests.

Its paths are fixed by the package (configuration in /etc/opencryptoki, token files in
/var/lib/opencryptoki/swtok, shared memory in /dev/shm, the slot daemon's pid file and socket
in /run): there is one such token per machine. So every test on it takes :func:`exclusive`
(an flock that also serialises test runs of several checkouts on one machine), resets the
token to its factory state (:func:`factory_reset`, about 30 ms: stop ``pkcsslotd``, delete
the token files, start it again) and only then loads the module.

Factory state: one uninitialised token, label "IBM OS PKCS#11", serial "123", SO PIN
``87654321`` (C_InitToken needs it), PINs of 4 to 8 characters. ``scripts/setup.sh``
installs the packages and writes the one-slot opencryptoki.conf this expects.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

CONF = Path("/etc/opencryptoki/opencryptoki.conf")
SWTOK = Path("/var/lib/opencryptoki/swtok")
SHM = Path("/dev/shm/var.lib.opencryptoki.swtok")
PIDFILE = Path("/run/pkcsslotd.pid")
SOCKET = Path("/run/pkcsslotd.socket")
DAEMON = "/usr/sbin/pkcsslotd"
LOCK = Path("/run/lock/custodian-opencryptoki.lock")
#: The factory SO PIN of a fresh swtok (public: opencryptoki documents it).
FACTORY_SO_PIN = "87654321"


def module_path() -> str | None:
    """The opencryptoki PKCS#11 library (libopencryptoki0), wherever the multiarch dir is."""
    for pattern in ("/usr/lib/*/opencryptoki/libopencryptoki.so", "/usr/lib/*/libopencryptoki.so.0",
                    "/usr/lib/opencryptoki/libopencryptoki.so"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def unavailable() -> str | None:
    """Why the opencryptoki tests cannot run here, or None."""
    if module_path() is None or not os.path.exists(DAEMON):
        return "opencryptoki is not installed (scripts/setup.sh installs opencryptoki libopencryptoki0)"
    if os.geteuid() != 0:
        return "the opencryptoki software token's files are root's (run the suite as root, as CI does)"
    if not CONF.is_file():
        return f"{CONF} is missing (scripts/setup.sh writes it)"
    slots = re.findall(r"^\s*slot\s+\d+", CONF.read_text(), re.MULTILINE)
    if len(slots) != 1 or "libpkcs11_sw.so" not in CONF.read_text():
        return f"{CONF} is not the one-slot software-token configuration scripts/setup.sh writes"
    return None


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the machine-wide lock on the one swtok (blocks while another test run has it)."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stop() -> None:
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        pid = None
    if pid is not None and not _is_daemon(pid):
        pid = None  # a stale pid file whose number another process now has: never signal that one
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.002)
    for leftover in (PIDFILE, SOCKET):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _is_daemon(pid: int) -> bool:
    """True if ``pid`` is a pkcsslotd (pids are reused: a stale pid file can name a test run)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == Path(DAEMON).name[:15]
    except OSError:
        return False


def _running(pid: int) -> bool:
    """True while ``pid`` lives (a zombie nobody reaps, as in a container without init, is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def factory_reset() -> None:
    """Stop pkcsslotd, delete the token's files (a fresh, uninitialised token), start it."""
    _stop()
    for name in ("NVTOK.DAT", "MK_SO", "MK_USER"):
        with contextlib.suppress(FileNotFoundError):
            (SWTOK / name).unlink()
    for obj in (SWTOK / "TOK_OBJ").glob("*"):
        obj.unlink()
    with contextlib.suppress(FileNotFoundError):
        SHM.unlink()
    # pkcsslotd daemonises: the command returns once the socket is up
    subprocess.run([DAEMON], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=30)


@contextlib.contextmanager
def factory_token() -> Iterator[str]:
    """The machine's software token at its factory state, held exclusively for one test (skipped,
    with the reason, where it cannot run); the library is unloaded after, because it caches the
    token state that the next test's reset clears. Yields the module's path."""
    reason = unavailable()
    if reason:
        import pytest

        pytest.skip(reason)
    with exclusive():
        factory_reset()
        path = module_path()
        try:
            yield path
        finally:
            from vault.hsm import HsmModule

            HsmModule.load(path).close()
