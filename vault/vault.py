"""``Vault``: one opened console home — its store, ledger, HSM module and token.

A ``Vault`` belongs to the thread that opened it (the owning thread, see vault.runtime): its
SQLite connection and every PKCS#11 call live there. Front ends open it on their owner and
never share it across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vault import __version__
from vault.errors import HsmThreadViolation
from vault.home import Home, open_home
from vault.types import Mode


@dataclass(frozen=True, slots=True)
class VaultInfo:
    home: str
    mode: Mode
    module: str
    token: str
    software_version: str


class Vault:
    def __init__(self, home: Home, store, ledger) -> None:
        self.home = home
        self.hsm_pin_source = None  # pin_policy "hsm-procedure": the front end's HsmPinSource for the ceremony
        self.hsm_pin_refused = None  # (source, error) once the HSM refused that source's PIN: no further login
        self.store = store
        self.ledger = ledger
        self._owner = threading.get_ident()
        self._hsm = None
        from vault.lock import HomeLock

        self.home_lock = HomeLock(home.path)

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, create_practice: bool = True) -> "Vault":
        """Open (or, on first use, create as practice) the home at ``path``.

        Creating a home writes the ledger's genesis event: software version, mode, module, token.
        """
        from vault.ledger import Ledger
        from vault.store import Store

        home = open_home(Path(path), create_practice=create_practice)
        store = Store.open(home.db_path)
        from vault.backup.outfile import track_pending_outputs

        track_pending_outputs(home.pending_outputs_dir)  # a crash's partial outputs: doctor names them
        ledger = Ledger(store)
        vault = cls(home, store, ledger)
        if ledger.head().seq == 0:
            try:
                vault.lock_for_writing("creating the home")
            except BaseException:
                store.close()
                raise
            try:
                if ledger.head().seq == 0:  # not written by another process meanwhile
                    ledger.append(
                        "home.created",
                        {
                            "software_version": __version__,
                            "mode": home.mode.value,
                            "module": home.config.module,
                            "token": home.config.token,
                            "home": str(home.path),
                        },
                        actor="console",
                    )
            finally:
                vault.unlock()
        return vault

    @property
    def info(self) -> VaultInfo:
        c = self.home.config
        return VaultInfo(str(self.home.path), c.mode, c.module, c.token, __version__)

    @property
    def mode(self) -> Mode:
        return self.home.mode

    def check_owner(self) -> None:
        if threading.get_ident() != self._owner:
            raise HsmThreadViolation("The vault was used from a thread that does not own it.")

    # -- the HSM -----------------------------------------------------------------------------------
    def hsm(self):
        """The loaded PKCS#11 module (loaded on first use, on the owning thread)."""
        self.check_owner()
        if self._hsm is None:
            from vault.hsm import HsmModule, write_practice_conf

            conf = self.home.practice_conf
            if conf is not None:
                # Practice: (re)write the private conf through vault.hsm, which then knows the
                # token directory is ours (drills create and wipe scratch tokens there).
                conf = write_practice_conf(self.home.path)
            self._hsm = HsmModule.load(self.home.config.module, practice_conf=conf)
        return self._hsm

    @property
    def token(self) -> str:
        """The configured token: a PKCS#11 URI or a label."""
        return self.home.config.token

    def lock_for_writing(self, purpose: str, *, ceremony_id: str | None = None) -> None:
        """Hold the home's writer lock (vault.lock) until ``unlock()`` or ``close()``; ``HomeLocked``
        names a live holder. A dead holder's lock is taken over and the ledger records it."""
        stale = self.home_lock.acquire(purpose, ceremony_id=ceremony_id)
        if stale is not None and self.ledger.head().seq > 0:
            self.ledger.append("home.lock_recovered", {"previous_holder": stale.to_dict(),
                                                       "reason": "the holder died without releasing the lock"},
                               actor="console")  # fmt: skip

    def unlock(self) -> None:
        self.home_lock.release()

    @contextmanager
    def writing(self, purpose: str, *, ceremony_id: str | None = None) -> Iterator[None]:
        """The writer lock for the ``with`` block (released after it only if taken here)."""
        held_before = self.home_lock.held
        self.lock_for_writing(purpose, ceremony_id=ceremony_id)
        try:
            yield
        finally:
            if not held_before:
                self.unlock()

    def close(self) -> None:
        self.home_lock.release()
        self.store.close()
