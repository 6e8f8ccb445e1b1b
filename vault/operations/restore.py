"""Restore a backup bundle onto a fresh token: all or nothing.

Nothing touches the token before the whole bundle (MAC included) is verified and matched to
the quorum's KEK, and every entry is matched to the database's record of the key. Destroyed
keys are never brought back. Every key is unwrapped in one pass and checked (KCV, or SPKI
fingerprint plus a signature); if any fails, or the database update fails, every object this
restore created is destroyed again (by handle: vault.hsm remembers 8 bytes per object made).

Memory: the bundle is streamed (verified once, then re-read for each pass, every line checked
against the digest the verification recorded: 32 bytes per line); the database is asked about
``LOOKUP_BATCH`` entries at a time. What grows with the key count is only that digest list,
the handles of the objects made, a compact index of the labels made (about 32 bytes per key)
and the result's tuple of restored labels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault import crashpoint
from vault.backup.format import KeyEntry
from vault.errors import BundleMismatch, HsmCheckFailed, TokenNotEmpty, VaultError
from vault.hsm import HsmSession
from vault.operations._common import ACTOR
from vault.operations.bundle_record import check_against_record
from vault.operations.bundles import LOOKUP_BATCH, batches, entry_item, open_verified, test_unwrap, with_records
from vault.operations.drill_place import DrillWhere, unwrap_checked
from vault.operations.keys import DESTROYED_STATES
from vault.operations.quorum import ActiveQuorum
from vault.operations.token import SETTING_LABEL, SETTING_MODEL, SETTING_SERIAL
from vault.store.records import KeyRecord
from vault.types import KeyState

if TYPE_CHECKING:
    from vault.vault import Vault


@dataclass(frozen=True, slots=True)
class RestoreResult:
    path: str
    sha256: str
    token_serial: str
    restored: tuple[str, ...]  # labels
    skipped: tuple[tuple[str, str], ...]  # (label, why)

    @property
    def key_count(self) -> int:
        return len(self.restored)


def _checked(vault: Vault, entries) -> Iterator[tuple[KeyEntry, KeyRecord | None]]:
    """Entries with their database records; refuses a bundle that disagrees with the database."""
    for entry, record in with_records(vault, entries):
        if record is not None and (record.cka_id != entry.cka_id or record.fingerprint != entry.fingerprint):
            raise HsmCheckFailed(
                f"The bundle's key {entry.label!r} ({entry.fingerprint}) is not the key the vault recorded "
                f"under that label ({record.fingerprint}); nothing was restored."
            )
        yield entry, record


def _restorable(vault: Vault, entries) -> Iterator[tuple[KeyEntry, KeyRecord | None]]:
    """The entries a restore brings back: all but the keys destroyed in this vault."""
    return ((e, r) for e, r in _checked(vault, entries) if r is None or r.state not in DESTROYED_STATES)


def plan_restore(vault: Vault, entries) -> tuple[int, list[tuple[str, str]]]:
    """Check every entry against the database without touching the token: (how many keys a
    restore brings back, the skipped ones as (label, why))."""
    count, skipped = 0, []
    for entry, record in _checked(vault, entries):
        if record is not None and record.state in DESTROYED_STATES:
            skipped.append((entry.label, f"{record.state.value} in this vault; never restored"))
        else:
            count += 1
    return count, skipped


@dataclass(frozen=True, slots=True)
class RestorePreflight:
    """A bundle checked for a restore without touching the vault's token (``preflight_restore``)."""

    path: str
    sha256: str
    backup_id: int
    key_count: int  # keys in the bundle
    to_restore: int  # of which a restore brings back (destroyed keys are skipped)
    skipped: tuple[tuple[str, str], ...]
    keys_unwrapped: int  # blobs unwrapped as session objects and checked (vault.operations.drill_place)
    unwrapped_in: DrillWhere | None = None  # where; None: nowhere yet (restore_backup test-unwraps first)


def preflight_restore(vault: Vault, quorum: ActiveQuorum, path: Path) -> RestorePreflight:
    """Everything a restore checks before any token is touched, the replacement token included:
    the whole file (lines, MAC, the quorum's KEK), the bundle against the vault's record of that
    backup key for key (vault.operations.bundle_record), and every blob unwrapped as a session
    object where this home drills (vault.operations.drill_place: a practice scratch token, the
    production drill token, or the production token itself), checked and destroyed. A production
    home with neither a drill token nor its old token (the HSM was lost) has nowhere to unwrap
    before the replacement exists: ``unwrapped_in`` is None and ``restore_backup`` test-unwraps
    every blob as session objects of the replacement before it stores a single key. Raises on
    the first problem; changes nothing in the vault (no row, no setting, no ledger event)."""
    path = Path(path)
    with quorum.mac_key() as mac_key:
        verified = open_verified(path, quorum, mac_key)
        record = check_against_record(vault, verified, path)
        count, skipped = plan_restore(vault, verified)
        unwrapped, where = unwrap_checked(vault, quorum, verified, vault_token_required=False)
    return RestorePreflight(str(path), verified.sha256, record.id, verified.key_count, count, tuple(skipped),
                            unwrapped, where)  # fmt: skip


def restore_backup(
    vault: Vault,
    session: HsmSession,
    quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    expected_sha256: str | None = None,
    test_unwrap_first: bool = False,
) -> RestoreResult:
    """Restore every key of the bundle at ``path`` onto the (fresh) token of ``session``.

    ``expected_sha256``: the digest a ``preflight_restore`` checked; a file changed since is refused.
    ``test_unwrap_first``: the pre-check had nowhere to unwrap (``RestorePreflight.unwrapped_in``
    None): every blob is unwrapped as a session object of this token, checked and destroyed,
    before the first key is stored."""
    path = Path(path)
    with quorum.mac_key() as mac_key:  # kept until the last pass over the bundle
        verified = open_verified(path, quorum, mac_key)  # before the token is touched
        if expected_sha256 is not None and verified.sha256 != expected_sha256:
            raise BundleMismatch(f"Bundle {path} changed since it was checked (SHA-256 {expected_sha256[:16]}… "
                                 f"then, {verified.sha256[:16]}… now); nothing was restored.")  # fmt: skip
        check_against_record(vault, verified, path)
        count, skipped = plan_restore(vault, verified)
        present = session.list_keys()
        if present:
            _clear_partial_restore(vault, session, verified, present, ceremony_id=ceremony_id, actor=actor)
        with quorum.kek() as kek:
            wkey = session.import_wrapping_key(kek)
        try:
            if test_unwrap_first and test_unwrap(session, wkey, map(entry_item, verified)) != verified.key_count:
                raise HsmCheckFailed(f"Not every one of the bundle's {verified.key_count} keys was test-unwrapped.")
            items = crashpoint.counting("restore:unwrapped", (entry_item(e, r) for e, r in _restorable(vault, verified)))
            made = session.unwrap_all(wkey, items, store=True)
        finally:
            try:
                session.destroy_wrapping_key(wkey)
            except VaultError:
                pass
        try:
            if made.count != count:
                raise HsmCheckFailed(f"{made.count} keys were restored where the bundle check found {count}.")
            with vault.store.atomic():
                labels = _record(vault, session, verified, ceremony_id, actor)
                vault.ledger.append(
                    "backup.restored",
                    {
                        "path": str(path.resolve()),
                        "sha256": verified.sha256,
                        "token_serial": session.token.serial,
                        "token_label": session.token.label,
                        "keys_restored": made.count,
                        "skipped": [[label, why] for label, why in skipped],
                        "share_set_id": verified.header.share_set_id,
                        "kek_check_value": verified.header.kek_check_value,
                    },
                    actor=actor,
                    ceremony_id=ceremony_id,
                )
        except BaseException:
            made.undo()
            raise
    return RestoreResult(str(path), verified.sha256, session.token.serial, labels, tuple(skipped))


def _clear_partial_restore(vault: Vault, session: HsmSession, verified, present, *, ceremony_id, actor) -> None:
    """A replacement token half filled by a restore that was killed: every object on it is a copy
    of one of this bundle's keys, and none of them is recorded on this token yet. Those copies are
    destroyed (the bundle still holds every one) so that the restore starts again from empty;
    anything else on the token is refused (``TokenNotEmpty``)."""
    serial = session.token.serial
    by_ident = {(k.label, k.key_id): k for k in present}
    matched = 0
    for entry, record in with_records(vault, verified):
        key = by_ident.get((entry.label, entry.cka_id))
        if key is None:
            continue
        if (key.algorithm is not entry.algorithm or key.fingerprint not in ("", entry.fingerprint)
                or (record is not None and record.token_serial == serial)):
            break
        matched += 1
    if matched != len(present):
        raise TokenNotEmpty(
            f"Token {session.token.describe()} already holds {len(present)} keys "
            f"(e.g. {present[0].label!r}); a restore goes onto a fresh token."
        )
    for key in present:
        session.destroy(key)
    vault.ledger.append("restore.partial_cleared", {
        "token_serial": serial, "keys_destroyed": len(present), "path": str(verified.path),
        "sha256": verified.sha256,
        "reason": "copies left by a restore that did not finish; the bundle holds every one",
    }, actor=actor, ceremony_id=ceremony_id)  # fmt: skip


def _record(vault: Vault, session: HsmSession, verified, ceremony_id, actor) -> tuple[str, ...]:
    """Record every restored key (a batch of entries at a time); returns their labels."""
    store = vault.store
    serial = session.token.serial
    labels: list[str] = []
    for batch in batches(_restorable(vault, verified), LOOKUP_BATCH):
        moved = [record.id for _, record in batch if record is not None and record.token_serial != serial]
        if moved:
            store.set_keys_token(moved, serial)
        for entry, record in batch:
            labels.append(entry.label)
            if record is not None:
                continue
            # The database does not know the key (a vault rebuilt from its bundle): record it as the bundle says.
            initial = KeyState.PRE_ACTIVATION if entry.state is KeyState.PRE_ACTIVATION else KeyState.ACTIVE
            record = store.add_key(
                entry.label, cka_id=entry.cka_id, algorithm=entry.algorithm, fingerprint=entry.fingerprint,
                token_serial=serial, actor=actor, ceremony_id=ceremony_id, state=initial, version=entry.version,
                reason=f"restored from bundle sha256:{verified.sha256[:16]}",
            )  # fmt: skip
            if entry.state is not initial:
                store.transition_key(record.id, entry.state, actor=actor, ceremony_id=ceremony_id,
                                     reason="restored in the state the bundle recorded")  # fmt: skip
    store.set_setting(SETTING_LABEL, session.token.label)
    store.set_setting(SETTING_SERIAL, serial)
    store.set_setting(SETTING_MODEL, f"{session.token.manufacturer} {session.token.model}".strip())
    return tuple(labels)
