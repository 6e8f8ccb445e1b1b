"""The lost machine: rebuild a vault's database and ledger on a new home from a backup bundle.

The laptop and its HSM are gone; a quorum of shares and a bundle (format 2) remain. On a new
home that holds nothing but its own creation event, ``rebuild_from_bundle``:

1. combines the shares offline; the backup KEK's check value must be the header's (else the
   shares are of another quorum) and the MAC over every line must verify;
2. opens the sealed metadata (vault.backup.metadata) and loads it into a new database file
   beside the home's, at the schema version the bundle was written with, then migrates it;
3. checks what was loaded, before it replaces anything: the ledger chain verifies and ends
   exactly at the header's head (``ledger_seq``, ``ledger_head``); the quorum secret has the
   check value of the share set the header names, and that set is the active one; and the
   bundle is, key for key, the backup the metadata's key records describe (issue 14's
   pre-check with the bundle's own metadata as the record: vault.operations.bundle_record);
4. records the bundle as a backup of the rebuilt vault, ends the ceremonies the snapshot caught
   running (the backup ceremony that wrote the bundle, at least: how it ended is known only to
   the lost machine) as aborted with that reason, and appends ``vault.rebuilt`` to the chain,
   which carries the new home's own events (its creation; a lock taken over) in its details;
5. only then moves the new database into place (one rename).

No token is touched: a restore ceremony onto a fresh token follows (it pre-checks the bundle
against the rebuilt record and unwraps every blob in a scratch token first). Anything wrong,
and the home is left as it was (the work file is removed).
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TYPE_CHECKING

from vault import crashpoint
from vault.backup.format import iter_verified_entries, kek_check_value
from vault.backup.metadata import MetadataUnreadable, open_records
from vault.errors import BundleForeign, BundleMismatch, BundleUnreadable, HomeError, StoreError
from vault.secret import Secret
from vault.shares import check_value, derive_backup_kek, derive_backup_metadata_key, derive_bundle_mac_key
from vault.shares.offline import combine_offline
from vault.operations.rebuild_config import RECORD as CONFIG_RECORD
from vault.operations.rebuild_config import ConfigCarry, plan_carry, restore_config, write_carried
from vault.store.records import BackupDecision, CeremonyStatus, LedgerHead, NewBackup, ShareSetStatus

if TYPE_CHECKING:
    from vault.vault import Vault

ACTOR = "console"
RESHARE_MARKER = "reshare.pending"  # vault.operations.reshare.MARKER
WORK_NAME = ".rebuild-custodian.db"
NO_CEREMONY = "outside-a-ceremony"


@dataclass(frozen=True, slots=True)
class RebuildResult:
    bundle: str
    sha256: str
    ledger_seq: int  # the bundle's head, now continued by vault.rebuilt
    keys: int
    custodians: int
    share_set: str
    backup_id: int
    ceremonies_ended: tuple[str, ...]
    settings: tuple[str, ...] = ()  # what of the lost home's custodian.toml was carried or kept (rebuild_config)


def rebuild_from_bundle(home_path: Path, bundle: Path, shares: Sequence[Secret], passphrase: Secret | None = None,
                        *, actor: str = ACTOR) -> RebuildResult:
    from vault.vault import Vault

    bundle = Path(bundle)
    vault = Vault.open(Path(home_path), create_practice=False)
    try:
        vault.lock_for_writing("rebuilding the vault from a backup")
        genesis = _new_home_genesis(vault)
        qs = combine_offline(shares, passphrase)
        try:
            work = vault.home.path / WORK_NAME
            _remove_db(work)  # a work file of a rebuild that was killed: nothing refers to it
            try:
                result, carry = _build(work, vault, bundle, qs, genesis, actor)
                crashpoint.reached("rebuild:built")  # crash tests: the new database is ready, not in place
                previous_config = write_carried(vault.home.path, carry) if carry is not None else None
                try:
                    vault.store.close()
                    _remove_db(vault.home.db_path)
                    os.replace(work, vault.home.db_path)
                except BaseException:
                    restore_config(vault.home.path, previous_config)
                    raise
            except BaseException:
                _remove_db(work)
                raise
        finally:
            qs.wipe()
    finally:
        vault.close()
    return result


#: What a new home's own ledger may hold: its creation, and a writer lock taken over from a
#: process that died (a rebuild killed before its rename).
NEW_HOME_ACTIONS = ("home.created", "home.lock_recovered")


def is_new_home(vault: Vault) -> bool:
    """Whether ``vault``'s home holds nothing but its own creation (a rebuild may go into it)."""
    try:
        _new_home_genesis(vault)
    except HomeError:
        return False
    return True


def _new_home_genesis(vault: Vault) -> list[dict]:
    """The new home's own events (carried into vault.rebuilt); refuses a home that holds anything else."""
    store = vault.store
    events = list(vault.ledger.events())
    if (not events or events[0].action != "home.created" or any(e.action not in NEW_HOME_ACTIONS for e in events)
            or not store.is_empty(besides=("ledger",))):
        raise HomeError(
            f"The home {vault.home.path} already holds a vault ({len(events)} ledger events); a vault is rebuilt "
            "only into a new home.",
            next_step="Create a new home (`custodian home init`) and rebuild into it.",
        )
    return [{"seq": e.seq, "at": e.at, "action": e.action, "hash": e.hash, "details": e.details} for e in events]


def _remove_db(path: Path) -> None:
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _build(work: Path, vault: Vault, bundle: Path, qs: Secret, genesis: list, actor: str):
    with derive_bundle_mac_key(qs) as mac_key, derive_backup_metadata_key(qs) as metadata_key:
        return _build_with(work, vault, bundle, qs, mac_key, metadata_key, genesis, actor)


def _build_with(work: Path, vault: Vault, bundle: Path, qs: Secret, mac_key: Secret, metadata_key: Secret, genesis: list,
                actor: str) -> tuple[RebuildResult, ConfigCarry | None]:
    from vault.ledger import Ledger
    from vault.store import Store
    from vault.store.schema import MIGRATIONS

    try:
        with open(bundle, "rb"):
            pass
    except OSError as exc:
        raise BundleUnreadable(f"Cannot read the bundle {bundle}: {exc.strerror or exc}.") from None
    with derive_backup_kek(qs) as kek:
        kcv = kek_check_value(kek)
    if True:  # the keys are held by _build until the last pass over the bundle
        verified = iter_verified_entries(bundle, mac_key)
        header = verified.header
        if not hmac.compare_digest(kcv, header.kek_check_value):
            raise BundleForeign(f"The bundle {bundle} was written under another quorum: its backup key's check value "
                                f"is {header.kek_check_value}, these shares' is {kcv} (or the SLIP-39 passphrase is "
                                "wrong).")
        if not header.has_metadata:
            raise BundleMismatch(
                f"The bundle {bundle} is format {header.format_version}: it carries no vault metadata, so it cannot "
                "rebuild a vault.",
                next_step="Rebuild from a newer bundle (format 2, any backup since), or recover single keys with the "
                          "break-glass recipe in docs/backup-format.md.",
            )
        if header.mode is not vault.home.mode:
            raise BundleMismatch(
                f"The bundle {bundle} is of a {header.mode.value} vault; this home is {vault.home.mode.value}: a "
                "practice vault is never rebuilt as a production one, nor the reverse.",
                next_step=f"Create a {header.mode.value} home (`custodian home init`) and rebuild into it.",
            )
        records = open_records(metadata_key, verified.metadata_chunks(), layout=header.format_version)
        try:
            first = next(records)
            second = next(records, None)
        except MetadataUnreadable as exc:
            raise BundleMismatch(f"The vault metadata in {bundle} cannot be read: {exc}.") from None
        carry = None
        if isinstance(second, dict) and CONFIG_RECORD in second:  # format 3: the lost home's custodian.toml
            carry = plan_carry(second[CONFIG_RECORD], vault.home.config, bundle)
        elif second is not None:
            records = _chain(second, records)
        schema = first.get("schema_version") if isinstance(first, dict) else None
        if not isinstance(schema, int) or not 1 <= schema <= len(MIGRATIONS):
            raise BundleMismatch(f"The vault metadata in {bundle} has schema version {schema!r}; this console "
                                 f"knows 1 to {len(MIGRATIONS)}.",
                                 next_step="Rebuild with the console version that wrote the bundle, or a newer one.")
        if first.get("ledger_seq") != header.ledger_seq:
            raise BundleMismatch(f"The vault metadata in {bundle} ends its ledger at event {first.get('ledger_seq')!r}, "
                                 f"the header at {header.ledger_seq}.")
        store = Store.open(work, migrations=MIGRATIONS[:schema])
        try:
            try:
                store.load_snapshot(_chain(first, records))
            except MetadataUnreadable as exc:
                raise BundleMismatch(f"The vault metadata in {bundle} cannot be read: {exc}.") from None
        finally:
            store.close()
    store = Store.open(work)  # migrated to this console's schema
    try:
        ledger = Ledger(store)
        head = LedgerHead(header.ledger_seq, header.ledger_head)
        report = ledger.verify(expected_head=head)
        if not report.ok or report.count != head.seq:
            problem = report.problem or f"it holds {report.count} events where the header names {head.seq}"
            raise BundleMismatch(f"The ledger in {bundle} does not verify against the bundle's head #{head.seq}: "
                                 f"{problem}")
        share_set, reshare = _share_set(store, header, qs, bundle)
        with store.atomic():
            if reshare is not None:  # the bundle of a reshare's switch: the switch completes here
                store.set_setting(RESHARE_MARKER, "")
                share_set = store.activate_share_set(share_set.id)
            backup = _record_backup(store, verified, bundle, kcv)
            ended = _end_running(store, header.ceremony_id, verified.sha256)
            ledger.append("vault.rebuilt", {
                "bundle": str(bundle.resolve()), "sha256": verified.sha256, "backup_id": backup.id,
                "bundle_ledger_head": [head.seq, head.hash_hex], "schema_version_in_bundle": schema,
                "share_set_id": share_set.id, "keys": backup.key_count, "ceremonies_ended": list(ended),
                "reshare_completed": reshare,
                "new_home": {"path": str(vault.home.path), "events": genesis},
                "home_config": carry.details() if carry is not None else None,
                "reason": "the vault's machine was lost; its metadata and ledger come from this bundle",
            }, actor=actor)
        custodians = len(store.list_custodians(status=None))
    finally:
        store.close()
    return RebuildResult(str(bundle), verified.sha256, head.seq, backup.key_count, custodians, share_set.name,
                         backup.id, ended, tuple(carry.lines()) if carry is not None else ()), carry


def _chain(first, rest):
    yield first
    yield from rest


def _share_set(store, header, qs: Secret, bundle: Path):
    """The share set the header names, checked against the shares; with the reshare ceremony
    whose switch wrote the bundle when that set is still pending in the snapshot (else None)."""
    import json

    from vault.errors import RecordNotFound

    try:
        record = store.get_share_set(header.share_set_id)
    except RecordNotFound:
        raise BundleMismatch(f"The vault metadata in {bundle} has no share set {header.share_set_id}, which its "
                             "header names.") from None
    if record.identifier != header.slip39_identifier or not hmac.compare_digest(check_value(qs), record.check_value):
        raise BundleMismatch(f"The shares entered are not of share set {record.name!r} that the bundle names.",
                             next_step="Use shares of the share set that wrote this bundle.")
    if record.status is ShareSetStatus.ACTIVE:
        return record, None
    marker = json.loads(store.get_setting(RESHARE_MARKER) or "null") or {}
    if record.status is ShareSetStatus.PENDING and marker.get("new_share_set_id") == record.id:
        # A reshare writes its new bundle inside the switch, before the new set is activated; the
        # shares entered are that set's (check value above) and every holder verified them back.
        return record, marker.get("ceremony_id") or "unknown"
    raise BundleMismatch(f"Share set {record.name!r} was {record.status.value} when the bundle was written.")


def _record_backup(store, verified, bundle: Path, kcv: str):
    """The bundle checked key for key against the metadata's key records, then recorded as a backup."""
    from vault.operations.bundle_record import key_differences_against

    from vault.operations.keys import BACKED_UP_STATES

    def recorded():
        return ((k, k.fingerprint) for k in store.iter_keys(BACKED_UP_STATES, backup=BackupDecision.BACKED_UP))

    problems = key_differences_against(verified, recorded)
    if verified.key_count != sum(1 for _ in recorded()):
        problems = problems or [f"the header announces {verified.key_count} keys"]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise BundleMismatch(f"The bundle {bundle} is not the backup its own metadata describes: {shown}.")
    header = verified.header
    ceremony_id = None if header.ceremony_id == NO_CEREMONY else header.ceremony_id
    try:
        return store.record_backup(
            NewBackup(path=str(bundle.resolve()), sha256=verified.sha256, format_version=header.format_version,
                      share_set_id=header.share_set_id, kek_check_value=kcv, ceremony_id=ceremony_id),
            ((k.id, k.fingerprint) for k, _ in recorded()),
        )
    except StoreError as exc:
        raise BundleMismatch(f"The bundle {bundle} cannot be recorded in its own metadata: {exc.message}") from None


def _end_running(store, ceremony_id: str, sha256: str) -> tuple[str, ...]:
    ended = []
    for c in store.unfinished_ceremonies():
        why = ("it wrote the bundle this vault was rebuilt from" if c.id == ceremony_id
               else "it was running when the bundle this vault was rebuilt from was written")
        store.end_ceremony(c.id, CeremonyStatus.ABORTED,
                           abort_reason=f"vault rebuilt from backup sha256:{sha256[:16]}: {why}; how it ended is "
                                        "recorded only on the lost machine")
        ended.append(c.id)
    return tuple(ended)
