"""Drill a restore: the latest (or a chosen) bundle unwrapped where this home drills, compared, destroyed.

Where (vault.operations.drill_place): a practice home in a scratch token of its practice token's module; a
production home in its configured drill token (a spare partition or HSM), or, without one,
inside its production HSM as session objects. Production keys never go into a software token.
Every entry is first compared with the database's record of the backup (bundle_record), then
unwrapped as a session object and checked: AES keys by KCV, pairs by SPKI fingerprint and a
sign/verify round trip against the bundle's public key (``HsmSession.check_unwrap_many``),
each copy destroyed at once. The result, passed or failed, is recorded with its duration and
where it ran (the ledger's ``where``).

A practice drill re-initialises the practice module to wipe its scratch token, and a production
drill logs in to the vault's token: no session may be open on the vault's module while a drill
runs (close the ceremony's token session first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import BundleUnreadable, DrillFailed, RecordNotFound, VaultError
from vault.operations._common import ACTOR, Stopwatch, sha256_file
from vault.operations.bundle_record import check_against_record
from vault.operations.bundles import open_verified
from vault.operations.drill_coverage import LISTED, Coverage, coverage_of, standing
from vault.operations.drill_place import DrillWhere, drill_place, unwrap_checked
from vault.operations.quorum import ActiveQuorum
from vault.store.records import BackupRecord, DrillRecord
from vault.store.records import DrillResult as DrillStatus

if TYPE_CHECKING:
    from vault.vault import Vault


@dataclass(frozen=True, slots=True)
class DrillResult:
    ok: bool
    drill: DrillRecord
    backup: BackupRecord
    keys_compared: int
    duration_seconds: float
    detail: str
    coverage: Coverage | None = None  # which current keys the bundle does not hold (drill_coverage)
    where: DrillWhere | None = None  # where the blobs were unwrapped (drill_place)


@dataclass(frozen=True, slots=True)
class DrillSchedule:
    interval_days: int | None
    last_ok_at: str | None  # the last passed drill that holds every current key (the one that counts)
    due_at: str | None  # None: nothing to drill yet (no backup)
    overdue: bool
    stale_at: str | None = None  # a later passed drill whose bundle lacks current keys
    missing: tuple[str, ...] = ()  # the current keys the last passed drill's bundle does not hold


def run_drill(
    vault: Vault,
    quorum: ActiveQuorum,
    bundle_path: Path | None = None,
    *,
    ceremony_id: str,
    actor: str = ACTOR,
) -> DrillResult:
    """Unwrap ``bundle_path`` (default: the latest backup) where this home drills and compare every key.

    Raises DrillFailed (after recording the failed drill) when any key does not come back.
    """
    backup = _backup_of(vault, bundle_path)
    path = Path(bundle_path) if bundle_path is not None else Path(backup.path)
    coverage = coverage_of(vault, backup.id)  # a stale bundle passes, but says what it does not hold
    started_at, watch = vault.store.now(), Stopwatch()
    compared, error, where = 0, None, None
    try:
        compared, where = _drill(vault, quorum, path)
    except VaultError as exc:
        error = exc
    ok = error is None
    detail = (f"{compared} key{'' if compared == 1 else 's'} unwrapped and compared in {where.describe()}" if ok
              else error.one_line())
    if not coverage.complete:
        detail += f"; the bundle {coverage.describe()}"
    with vault.store.atomic():
        drill = vault.store.record_drill(
            ceremony_id, backup.id, started_at=started_at, ended_at=vault.store.now(),
            duration_seconds=watch.seconds, result=DrillStatus.OK if ok else DrillStatus.FAILED,
            keys_compared=compared, detail=detail,
        )  # fmt: skip
        vault.ledger.append(
            "drill.passed" if ok else "drill.failed",
            {"drill_id": drill.id, "backup_id": backup.id, "path": str(path), "sha256": backup.sha256,
             "keys_compared": compared, "duration_seconds": drill.duration_seconds,
             "error_code": None if ok else error.code, "current_keys": coverage.current,
             "covers_current_keys": coverage.complete,
             "current_keys_missing": list(coverage.missing[:LISTED]),
             "current_keys_missing_count": len(coverage.missing),
             # where the blobs were unwrapped; a drill that failed before unwrapping names where it would have
             "where": where.to_ledger() if where is not None else {"place": drill_place(vault).value}},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    if not ok:
        raise DrillFailed(f"The restore drill of {path} failed ({error.code}): {error.message}") from None
    return DrillResult(True, drill, backup, compared, drill.duration_seconds, detail, coverage, where)


def _backup_of(vault: Vault, bundle_path: Path | None) -> BackupRecord:
    """The backup record the drill is about (the drills table refers to it)."""
    if bundle_path is None:
        latest = vault.store.latest_backup()
        if latest is None:
            raise RecordNotFound("No backup has been written yet, so there is nothing to drill.",
                                 next_step="Run the backup ceremony first.")  # fmt: skip
        return latest
    path = Path(bundle_path)
    try:
        return vault.store.get_backup_by_sha256(sha256_file(path))
    except OSError as exc:
        raise BundleUnreadable(f"Cannot read the bundle {path}: {exc.strerror or exc}.") from None
    except RecordNotFound:
        # A recorded bundle whose bytes changed is a failed drill, not an unknown file.
        resolved = str(path.resolve())
        for record in reversed(vault.store.list_backups()):
            if record.path == resolved:
                return record
        raise RecordNotFound(
            f"The bundle {path} is not a backup this vault recorded.",
            next_step="Drill a bundle written by this vault's backup ceremony.",
        ) from None


def _drill(vault: Vault, quorum: ActiveQuorum, path: Path) -> tuple[int, DrillWhere]:
    with quorum.mac_key() as mac_key:
        verified = open_verified(path, quorum, mac_key)
        # The bundle must be, key for key, the backup the vault recorded before anything is unwrapped.
        check_against_record(vault, verified, path)
        return unwrap_checked(vault, quorum, verified)


def next_drill_due(vault: Vault, *, now: datetime | None = None) -> DrillSchedule:
    """When the next drill is due: the last drill *of the current key set* plus the policy's interval.

    A passed drill counts only when its bundle holds every key a backup must hold now
    (vault.operations.drill_coverage); while none does, the drill is due from the latest backup
    on (a new backup, or a key no drill has held, should be drilled at once).
    """
    now = now or datetime.now(timezone.utc)
    policy = vault.store.current_policy()
    interval = policy.drill_interval_days if policy else None
    st = standing(vault)
    last = st.counting
    if last is not None and interval is not None:
        due = datetime.fromisoformat(last.ended_at) + timedelta(days=interval)
    else:
        latest = vault.store.latest_backup()
        due = datetime.fromisoformat(latest.created_at) if latest is not None else None
        if due is not None and st.last_passed is not None:  # stale drills only: due now, not later
            due = min(due, datetime.fromisoformat(st.last_passed.ended_at))
    stale = st.last_passed if st.last_passed is not None and st.last_passed is not last else None
    return DrillSchedule(
        interval_days=interval,
        last_ok_at=last.ended_at if last else None,
        due_at=due.isoformat().replace("+00:00", "Z") if due else None,
        overdue=due is not None and due <= now,
        stale_at=stale.ended_at if stale else None,
        missing=st.last_passed_coverage.missing if st.last_passed_coverage is not None else (),
    )
