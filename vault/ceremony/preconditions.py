"""Named preconditions a definition may list; each is checked before the ceremony opens.

A failed precondition raises ``PreconditionFailed`` and records nothing (no ceremony row, no
ledger event): the ceremony simply cannot start yet.
"""

from __future__ import annotations

from typing import Callable

from vault.errors import PreconditionFailed
from vault.types import KeyState


def _not_initialised(vault) -> None:
    if vault.store.active_share_set() is not None:
        raise PreconditionFailed("This vault is already initialised (it has an active share set).",
                                 next_step="Use a reshare ceremony to change custodians or the policy.")


def _initialised(vault) -> None:
    if vault.store.active_share_set() is None:
        raise PreconditionFailed("This vault is not initialised yet.", next_step="Run the init ceremony first.")


def _has_active_key(vault) -> None:
    if not vault.store.list_keys(KeyState.ACTIVE):
        raise PreconditionFailed("No key is active.", next_step="Generate a key first (generate-key ceremony).")


def _has_keys(vault) -> None:
    if not vault.store.list_keys():
        raise PreconditionFailed("The vault holds no keys.", next_step="Generate a key first (generate-key ceremony).")


def _has_backup(vault) -> None:
    if vault.store.latest_backup() is None:
        raise PreconditionFailed("No backup bundle has been recorded.", next_step="Run the backup ceremony first.")


PRECONDITIONS: dict[str, Callable] = {
    "not-initialised": _not_initialised,
    "initialised": _initialised,
    "has-active-key": _has_active_key,
    "has-keys": _has_keys,
    "has-backup": _has_backup,
}


def check_preconditions(vault, definition) -> None:
    for name in definition.preconditions:
        PRECONDITIONS[name](vault)
    if not vault.home.is_practice and (not definition.steps or definition.steps[0].kind != "environment"):
        raise PreconditionFailed(f"Ceremony {definition.name!r} does not check the air gap first.",
                                 next_step="Production ceremonies must start with an environment step.")
