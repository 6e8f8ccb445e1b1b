"""The TUI's one road to the vault: an ``OwnerThread`` that owns PKCS#11 and SQLite.

The bridge opens the ``Vault`` on its owner thread and every later call runs there too; the
event loop only awaits futures (``asyncio.wrap_future``), so the UI never blocks on the HSM or the
database. Nothing in console/ touches ``bridge.vault`` from the UI thread: functions that need it
are handed over with ``await bridge.run(fn, *args)`` (called as ``fn(vault, *args)`` on the owner).
"""

from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from vault.runtime import OwnerThread

T = TypeVar("T")


class Bridge:
    def __init__(self, home_path: Path, *, owner: OwnerThread | None = None) -> None:
        self.home_path = Path(home_path)
        self._owner = owner or OwnerThread("vault-owner")
        self._vault = None
        self._opened: asyncio.Event | None = None
        self._drives = 0
        self._drives_done = threading.Condition()

    @property
    def is_open(self) -> bool:
        return self._vault is not None

    @property
    def owner(self) -> OwnerThread:
        return self._owner

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` on the owner thread; await its result (exceptions re-raise)."""
        return await asyncio.wrap_future(self._owner.submit(fn, *args, **kwargs))

    def _opened_event(self) -> asyncio.Event:
        if self._opened is None:
            self._opened = asyncio.Event()
        return self._opened

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(vault, *args, **kwargs)`` on the owner thread (waits until the vault is open)."""
        await self._opened_event().wait()
        return await self.call(self._with_vault, fn, args, kwargs)

    def run_blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """From a thread worker (never the event loop): ``fn(vault, *args)`` on the owner, waited for."""
        return self._owner.call(self._with_vault, fn, args, kwargs)

    def _with_vault(self, fn, args, kwargs):
        if self._vault is None:
            raise RuntimeError("the vault is not open")
        return fn(self._vault, *args, **kwargs)

    async def open(self) -> None:
        from vault.vault import Vault

        def _open():
            self._vault = Vault.open(self.home_path)
            return self._vault.info

        self.info = await self.call(_open)
        self._opened_event().set()

    async def with_vault_closed(self, fn: Callable[..., T], *args: Any) -> T:
        """Close the vault, run ``fn(home_path, *args)`` on the owner thread, open the vault again.

        For work that replaces the home's database (a rebuild): no connection of this process
        may hold the old file meanwhile. One call on the owner thread, so nothing runs between
        the close and the reopen; the vault is opened again even when ``fn`` fails."""
        from vault.vault import Vault

        def _around():
            if self._vault is not None:
                self._vault.close()
                self._vault = None
            try:
                return fn(self.home_path, *args)
            finally:
                self._vault = Vault.open(self.home_path)
                self.info = self._vault.info

        await self._opened_event().wait()
        return await self.call(_around)

    @contextmanager
    def driving(self) -> Iterator[None]:
        """Held by a ceremony's drive thread for as long as it runs (see ``wait_for_drives``)."""
        with self._drives_done:
            self._drives += 1
        try:
            yield
        finally:
            with self._drives_done:
                self._drives -= 1
                self._drives_done.notify_all()

    def wait_for_drives(self, timeout: float) -> bool:
        """Block until no ceremony is being driven (its abort is recorded); False on timeout."""
        with self._drives_done:
            return self._drives_done.wait_for(lambda: self._drives == 0, timeout)

    def close(self) -> None:
        """Close the vault on its owner and stop the thread (blocking; called at app exit)."""
        def _close():
            if self._vault is not None:
                try:
                    self._vault.close()
                finally:
                    self._vault = None

        try:
            self._owner.submit(_close).result(timeout=10)
        finally:
            self._owner.shutdown()
