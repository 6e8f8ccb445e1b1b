"""Compare the token's objects with the database. Reports only: never deletes anything."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from vault.errors import TokenDisagrees
from vault.hsm import HsmSession, KeyObject
from vault.operations.keys import DESTROYED_STATES
from vault.store.records import KeyRecord

if TYPE_CHECKING:
    from vault.vault import Vault


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
    # on this token, but recorded on another token (a restore that did not finish left copies)
    copies_of_other_tokens: tuple[tuple[KeyRecord, KeyObject], ...] = ()

    @property
    def ok(self) -> bool:
        return self.token_checked and not (
            self.unknown_on_token or self.missing_from_token or self.destroyed_but_present or self.fingerprint_mismatch
            or self.copies_of_other_tokens
        )

    def differences(self) -> list[str]:
        """Each disagreement on one line, for the refusal that stops a ceremony."""
        out = [f"'{k.label}' (CKA_ID {k.key_id}, {k.fingerprint or k.algorithm.value}) is on the token but in no "
               "database record" for k in self.unknown_on_token]
        out += [f"'{r.label}' v{r.version} ({r.fingerprint}) is recorded on this token but missing from it"
                for r in self.missing_from_token]
        out += [f"'{r.label}' is {r.state.value} in the database but still on the token" for r in self.destroyed_but_present]
        out += [f"'{r.label}' on the token is {k.fingerprint}, the database recorded {r.fingerprint}"
                for r, k in self.fingerprint_mismatch]
        out += [f"'{r.label}' is on this token but recorded on token {r.token_serial} (a restore that did not finish?)"
                for r, _ in self.copies_of_other_tokens]
        return out

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


def reconcile(vault: Vault, session: HsmSession | None) -> ReconcileReport:
    """Token objects unknown to the database, and database keys (not destroyed) missing from the token."""
    records = vault.store.list_keys()
    live = [r for r in records if r.state not in DESTROYED_STATES]
    if session is None:
        return ReconcileReport(False, None, (), (), (), (), (), len(live))
    serial = session.token.serial
    on_token = {(k.label, k.key_id): k for k in session.list_keys()}
    by_ident = {(r.label, r.cka_id): r for r in records}
    unknown = tuple(k for ident, k in on_token.items() if ident not in by_ident)
    missing, destroyed, mismatch, elsewhere, copies = [], [], [], [], []
    for record in records:
        key = on_token.get((record.label, record.cka_id))
        if record.state in DESTROYED_STATES:
            if key is not None:
                destroyed.append(record)
        elif record.token_serial != serial:
            elsewhere.append(record)
            if key is not None:
                copies.append((record, key))
        elif key is None:
            missing.append(record)
        elif key.fingerprint and key.fingerprint != record.fingerprint:
            mismatch.append((record, key))
    return ReconcileReport(True, serial, unknown, tuple(missing), tuple(destroyed), tuple(mismatch),
                           tuple(elsewhere), len(live), tuple(copies))  # fmt: skip


def require_agreement(vault: Vault, session: HsmSession, *, explained: frozenset[str] = frozenset()) -> ReconcileReport:
    """Reconcile and stop (``TokenDisagrees``, naming each difference and the way out) unless the
    token and the database agree. ``explained``: labels of orphans the running step's own intent
    accounts for (it resolves them itself). Read-only: nothing is changed either way."""
    report = reconcile(vault, session)
    if explained:
        report = replace(report, unknown_on_token=tuple(k for k in report.unknown_on_token if k.label not in explained),
                         missing_from_token=tuple(r for r in report.missing_from_token if r.label not in explained))
    if not report.ok:
        found = report.differences()
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise TokenDisagrees(
            f"The token {session.token.describe()} and the database disagree, so this ceremony stops before "
            f"changing anything: {shown}.",
            next_step="Finish or abort the ceremony that left this (`custodian ceremony unfinished`), then run the "
                      "reconcile ceremony (`custodian ceremony run reconcile --script FILE`), which adopts or destroys "
                      "each orphan with a quorum; a missing key is restored from a backup.",
        )  # fmt: skip
    return report
