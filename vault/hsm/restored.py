"""Undoing a bulk restore: the objects one unwrap call made, kept as bare handles.

A restore of thousands of keys must be undoable when the caller's own bookkeeping fails
after the token already holds the keys. Keeping python-pkcs11 objects for that would grow
with the key count (a class per object); this keeps 8 bytes per object and destroys by
handle, newest first, without searching.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

import pkcs11

from vault.errors import VaultError
from vault.hsm.module import HSM_LOCK

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession


class RestoredObjects:
    """The objects one bulk unwrap created, as handles (8 bytes each), to undo it by handle."""

    def __init__(self, session: HsmSession) -> None:
        self._session = session
        self._handles = array("Q")
        self.count = 0  # keys restored

    @property
    def nbytes(self) -> int:
        return self._handles.buffer_info()[1] * self._handles.itemsize

    def _add(self, made: list[Any]) -> None:
        self._handles.extend(int(o.handle) for o in made)
        self.count += 1

    def undo(self) -> int:
        """Destroy every object made (newest first, no search); returns how many the token
        refused (``custodian reconcile`` lists those)."""
        refused = 0
        with HSM_LOCK:
            if self._session.closed:
                return len(self._handles)
            raw = self._session.raw()
            for handle in reversed(self._handles):
                try:
                    raw.destroy(handle)
                except (pkcs11.PKCS11Error, VaultError):
                    refused += 1
        self._handles = array("Q")
        self.count = 0
        return refused
