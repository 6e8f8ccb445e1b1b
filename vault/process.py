"""Process hygiene, applied first thing by every front end (``custodian`` and its console).

Shares, the quorum secret and PINs live in this process's memory while a ceremony runs, so:

* no core dump: ``RLIMIT_CORE`` is set to 0 (soft and hard), so a crash writes no memory image;
* no ptrace, no /proc/PID/mem for other processes of the same user: ``PR_SET_DUMPABLE`` 0 on
  Linux (this also makes the kernel refuse a core dump);
* files are created private: the umask is 077 (every file the console creates also names its
  mode explicitly; this covers what a library creates).

``harden_process()`` is idempotent and never raises: on a platform without one of these it
returns what it could not do, for `custodian doctor` to report.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _libc():
    """The C library's symbols. ``CDLL(None)`` is the process's own namespace, libc included, at
    no cost; ``ctypes.util.find_library`` runs ``ldconfig`` in a subprocess (15-40 ms at every
    start of every command), so it is only the fallback."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl  # noqa: B018 - raises AttributeError where the namespace has no prctl
        return libc
    except (OSError, AttributeError):
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)


def harden_process() -> list[str]:
    """Disable core dumps and ptrace attachment, set a private umask. Returns what failed."""
    failed: list[str] = []
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        failed.append("core dumps could not be disabled (RLIMIT_CORE)")
    if sys.platform.startswith("linux"):
        try:
            if _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
                failed.append("ptrace attachment could not be refused (PR_SET_DUMPABLE)")
        except (OSError, AttributeError):
            failed.append("ptrace attachment could not be refused (PR_SET_DUMPABLE)")
    os.umask(0o077)
    return failed


def process_state() -> dict[str, object]:
    """What ``harden_process`` set, read back (for tests and `custodian doctor`)."""
    state: dict[str, object] = {}
    try:
        import resource

        state["rlimit_core"] = resource.getrlimit(resource.RLIMIT_CORE)
    except ImportError:
        state["rlimit_core"] = None
    if sys.platform.startswith("linux"):
        state["dumpable"] = _libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)
    else:
        state["dumpable"] = None
    return state
