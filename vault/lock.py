"""One writer per home: an exclusive ``flock`` on ``HOME/custodian.lock``.

Every process that changes a home (a ceremony run, resume or abort, the TUI while a ceremony
is open, home creation) holds the lock; a second writer is refused with ``HomeLocked``, which
names the holder (pid, host, ceremony, since when). Read-only commands never take it: they ask
``current_holder(home)`` and say that a ceremony is live instead of calling it crashed.

The lock is the kernel's (``flock(2)`` on an open file description), so a holder that dies —
kill -9, power loss — releases it with its last file descriptor; nothing has to time out. The
file's content only says who holds it: written after the lock is taken, emptied before it is
released. Content left in a file whose lock is free is therefore a holder that died; the next
writer takes over and the vault records it (``home.lock_recovered`` in the ledger, with the dead
holder's details), so an auditor sees every crashed writer.

The lock belongs to the ``Vault`` object that took it and is released by ``Vault.close()``.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vault.errors import HomeLocked

LOCK_NAME = "custodian.lock"
_PROBE_RETRIES = 40


@dataclass(frozen=True, slots=True)
class LockHolder:
    pid: int
    host: str
    since: str
    purpose: str
    ceremony_id: str | None = None

    def describe(self) -> str:
        what = f"ceremony {self.ceremony_id}" if self.ceremony_id else self.purpose
        return f"pid {self.pid} on host {self.host} ({what}, since {self.since})"

    def to_dict(self) -> dict:
        return {"pid": self.pid, "host": self.host, "since": self.since, "purpose": self.purpose,
                "ceremony_id": self.ceremony_id}

    @classmethod
    def parse(cls, text: str) -> "LockHolder | None":
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["since"]), str(data.get("purpose", "")),
                       data.get("ceremony_id"))
        except (ValueError, KeyError, TypeError):
            return None


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_NAME


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


class HomeLock:
    """The exclusive lock of one home, as held by this process (re-entrant for its owner)."""

    def __init__(self, home: Path) -> None:
        self.path = lock_path(home)
        self._fd: int | None = None
        self.holder: LockHolder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str, *, ceremony_id: str | None = None) -> LockHolder | None:
        """Take the lock (or, if held already, re-label it). Returns the dead holder whose lock
        was taken over, if the file named one; ``HomeLocked`` if a live process holds it."""
        if self._fd is not None:
            self._write(LockHolder(os.getpid(), socket.gethostname(), self.holder.since if self.holder else _now(),
                                   purpose, ceremony_id))  # fmt: skip
            return None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        for attempt in range(_PROBE_RETRIES + 1):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                holder = LockHolder.parse(_read(fd))
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
                if holder is None and attempt < _PROBE_RETRIES:
                    time.sleep(0.005)  # a reader's probe (current_holder) holds it for microseconds
                    continue
                os.close(fd)
                raise _locked(self.path.parent, holder) from None
        stale = LockHolder.parse(_read(fd))
        self._fd = fd
        self._write(LockHolder(os.getpid(), socket.gethostname(), _now(), purpose, ceremony_id))
        return stale

    def release(self) -> None:
        fd, self._fd = self._fd, None
        self.holder = None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # a clean release leaves nobody named in the file
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the flock

    def _write(self, holder: LockHolder) -> None:
        assert self._fd is not None
        data = json.dumps(holder.to_dict(), sort_keys=True).encode() + b"\n"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)
        self.holder = holder


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _locked(home: Path, holder: LockHolder | None) -> HomeLocked:
    who = holder.describe() if holder else "another process"
    return HomeLocked(f"The home {home} is in use by {who}; only one process may change a home at a time.")


def current_holder(home: Path) -> LockHolder | None:
    """Who holds the lock now (a live writer), or None. Never takes it for longer than a probe."""
    path = lock_path(home)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return LockHolder.parse(_read(fd)) or LockHolder(0, "?", "?", "unknown")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
