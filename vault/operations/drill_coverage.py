"""Drill integrity: a drill proves the keys its bundle holds, not the vault's current key set.

A bundle written before a key was generated (or rotated) restores perfectly and still leaves
that key undrilled. So every drill is compared with the keys a backup must hold *now*
(``keys_to_back_up``: backed-up decision, not destroyed or compromised):

* ``coverage_of(vault, backup_id)`` says which current keys the bundle does not hold;
* a drill *counts* for the current key set only when it passed and its bundle holds every
  current key; ``next_drill_due`` (vault.operations.drill) schedules from the last drill that
  counts, and is due at once while none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault.store.records import DrillRecord
from vault.store.records import DrillResult as DrillStatus

if TYPE_CHECKING:
    from vault.vault import Vault

LISTED = 20  # labels named in a message or ledger event; the count is always complete


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much of the current key set one bundle holds."""

    current: int  # keys a backup must hold now
    held: int  # of those, how many the bundle holds
    missing: tuple[str, ...]  # labels of the current keys it does not hold (all of them)

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        if self.complete:
            return f"holds all {self.current} current key{'s' if self.current != 1 else ''}"
        names = ", ".join(self.missing[:LISTED]) + (f" and {len(self.missing) - LISTED} more"
                                                    if len(self.missing) > LISTED else "")
        return f"holds {self.held} of {self.current} current keys; not: {names}"


def _current(vault: Vault) -> dict[int, str]:
    from vault.operations.backup import iter_keys_to_back_up

    return {k.id: k.label for k in iter_keys_to_back_up(vault)}


def coverage_of(vault: Vault, backup_id: int, current: dict[int, str] | None = None) -> Coverage:
    """Which of the current keys the bundle of ``backup_id`` holds (from the backup's key list)."""
    current = _current(vault) if current is None else current
    held = {k.key_id for k in vault.store.backup_keys(backup_id)}
    missing = tuple(label for key_id, label in sorted(current.items()) if key_id not in held)
    return Coverage(len(current), len(current) - len(missing), missing)


@dataclass(frozen=True, slots=True)
class DrillStanding:
    """The drills as the schedule sees them."""

    counting: DrillRecord | None  # the last passed drill whose bundle holds every current key
    last_passed: DrillRecord | None  # the last passed drill of any bundle
    last_passed_coverage: Coverage | None  # what that last passed drill's bundle lacks now


def standing(vault: Vault) -> DrillStanding:
    current = _current(vault)
    passed = [d for d in vault.store.list_drills() if d.result is DrillStatus.OK]
    passed.sort(key=lambda d: (d.ended_at, d.id))
    if not passed:
        return DrillStanding(None, None, None)
    last = passed[-1]
    cache: dict[int, Coverage] = {}

    def cov(d: DrillRecord) -> Coverage:
        if d.backup_id not in cache:
            cache[d.backup_id] = coverage_of(vault, d.backup_id, current)
        return cache[d.backup_id]

    counting = next((d for d in reversed(passed) if cov(d).complete), None)
    return DrillStanding(counting, last, cov(last))
