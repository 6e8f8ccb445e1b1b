"""The owning thread: every PKCS#11 and SQLite call runs on one thread.

python-pkcs11 initialises the module without mutexes (the practice token then crashes on concurrent calls) and a
sqlite3 connection belongs to the thread that opened it. Front ends therefore never touch the
vault from their own threads: the CLI runs everything on its main thread (which is then the
owner), and the TUI hands every call to an ``OwnerThread`` and awaits the future, so the event
loop never blocks on the HSM or the database.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class OwnerThread:
    """A single-thread executor with a name, so stack traces say where HSM work ran."""

    def __init__(self, name: str = "vault-owner") -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._ident: int | None = None
        # Learn the worker's identity once, so ``call`` can run inline when already on it.
        self._ident = self._executor.submit(threading.get_ident).result()

    @property
    def ident(self) -> int | None:
        return self._ident

    def on_owner(self) -> bool:
        return threading.get_ident() == self._ident

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> "concurrent.futures.Future[T]":
        return self._executor.submit(fn, *args, **kwargs)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the owner and wait; inline when the caller already is the owner."""
        if self.on_owner():
            return fn(*args, **kwargs)
        return self._executor.submit(fn, *args, **kwargs).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)
