"""Compare the token's objects with the database. Reports only: never deletes anything."""

from __future__ import annotations

from dataclasses import dataclass

from vault.hsm import HsmSession, KeyObject
from vault.operations.keys import DESTROYED_STATES
from vault.store.records import KeyRecord


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    token_checked: bool
    token_serial: str | None
    unknown_on_token: tuple[KeyObject, ...]  # on the token, not in the database (orphans)
    missing_from_token: tuple[KeyRecord, ...]  # recorded on this token, not destroyed, not found
    destroyed_but_present: tuple[KeyRecord, ...]  # tombstoned in the database, still on the token
    fingerprint_mismatch: tuple[tuple[KeyRecord, KeyObject], ...]
    on_other_tokens: tuple[KeyRecord, ...]  # live keys recorded on another token serial
    keys_in_database: int

    @property
    def ok(self) -> bool:
        return self.token_checked and not (
            self.unknown_on_token or self.missing_from_token or self.destroyed_but_present or self.fingerprint_mismatch
        )

    def describe(self) -> str:
        if not self.token_checked:
            return f"{self.keys_in_database} live keys in the database; the token was not checked (no session)."
        parts = [
            f"{len(self.unknown_on_token)} unknown objects on the token",
            f"{len(self.missing_from_token)} recorded keys missing from the token",
            f"{len(self.destroyed_but_present)} destroyed keys still present",
            f"{len(self.fingerprint_mismatch)} fingerprint mismatches",
        ]
        return "; ".join(parts) + "."


def reconcile(vault, session: HsmSession | None) -> ReconcileReport:
    """Token objects unknown to the database, and database keys (not destroyed) missing from the token."""
    records = vault.store.list_keys()
    live = [r for r in records if r.state not in DESTROYED_STATES]
    if session is None:
        return ReconcileReport(False, None, (), (), (), (), (), len(live))
    serial = session.token.serial
    on_token = {(k.label, k.key_id): k for k in session.list_keys()}
    by_ident = {(r.label, r.cka_id): r for r in records}
    unknown = tuple(k for ident, k in on_token.items() if ident not in by_ident)
    missing, destroyed, mismatch, elsewhere = [], [], [], []
    for record in records:
        key = on_token.get((record.label, record.cka_id))
        if record.state in DESTROYED_STATES:
            if key is not None:
                destroyed.append(record)
        elif record.token_serial != serial:
            elsewhere.append(record)
        elif key is None:
            missing.append(record)
        elif key.fingerprint and key.fingerprint != record.fingerprint:
            mismatch.append((record, key))
    return ReconcileReport(True, serial, unknown, tuple(missing), tuple(destroyed), tuple(mismatch),
                           tuple(elsewhere), len(live))  # fmt: skip
