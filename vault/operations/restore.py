"""Restore a backup bundle onto a fresh token: all or nothing.

Nothing touches the token before the whole bundle (MAC included) is verified and matched to
the quorum's KEK, and every entry is matched to the database's record of the key. Destroyed
keys are never brought back. Every key is unwrapped in one pass and checked (KCV, or SPKI
fingerprint plus a signature); if any fails, or the database update fails, every object this
restore created is destroyed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vault.backup.format import KeyEntry
from vault.errors import HsmCheckFailed, TokenNotEmpty, VaultError
from vault.hsm import HsmSession
from vault.operations._common import ACTOR, destroy_quietly
from vault.operations.bundles import entry_item, open_verified
from vault.operations.keys import DESTROYED_STATES
from vault.operations.quorum import ActiveQuorum
from vault.operations.token import SETTING_LABEL, SETTING_MODEL, SETTING_SERIAL
from vault.store.records import KeyRecord
from vault.types import KeyState


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


def plan_restore(vault, entries) -> tuple[list[KeyEntry], list[tuple[str, str]]]:
    """Which entries to restore: refuse a bundle that disagrees with the database; skip destroyed keys."""
    known = {r.label: r for r in vault.store.list_keys()}
    restore, skipped = [], []
    for entry in entries:
        record = known.get(entry.label)
        if record is not None:
            if record.cka_id != entry.cka_id or record.fingerprint != entry.fingerprint:
                raise HsmCheckFailed(
                    f"The bundle's key {entry.label!r} ({entry.fingerprint}) is not the key the vault recorded "
                    f"under that label ({record.fingerprint}); nothing was restored."
                )
            if record.state in DESTROYED_STATES:
                skipped.append((entry.label, f"{record.state.value} in this vault; never restored"))
                continue
        restore.append(entry)
    return restore, skipped


def restore_backup(
    vault,
    session: HsmSession,
    quorum: ActiveQuorum,
    path: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> RestoreResult:
    """Restore every key of the bundle at ``path`` onto the (fresh) token of ``session``."""
    path = Path(path)
    with quorum.mac_key() as mac_key:
        verified = open_verified(path, quorum, mac_key)  # before the token is touched
        entries, skipped = plan_restore(vault, verified)
    items = [entry_item(e) for e in entries]
    present = session.list_keys()
    if present:
        raise TokenNotEmpty(
            f"Token {session.token.describe()} already holds {len(present)} keys "
            f"(e.g. {present[0].label!r}); a restore goes onto a fresh token."
        )
    with quorum.kek() as kek:
        wkey = session.import_wrapping_key(kek)
    try:
        restored = session.unwrap_many(wkey, items, store=True)  # all or nothing
    finally:
        try:
            session.destroy_wrapping_key(wkey)
        except VaultError:
            pass
    try:
        for (expected, _, _), key in zip(items, restored, strict=True):
            if key.fingerprint != expected.fingerprint:
                raise HsmCheckFailed(f"Restored {key.label!r} has {key.fingerprint}, expected {expected.fingerprint}.")
        with vault.store.atomic():
            _record(vault, session, entries, verified.sha256, ceremony_id, actor)
            vault.ledger.append(
                "backup.restored",
                {
                    "path": str(path.resolve()),
                    "sha256": verified.sha256,
                    "token_serial": session.token.serial,
                    "token_label": session.token.label,
                    "keys_restored": len(restored),
                    "skipped": [[label, why] for label, why in skipped],
                    "share_set_id": verified.header.share_set_id,
                    "kek_check_value": verified.header.kek_check_value,
                },
                actor=actor,
                ceremony_id=ceremony_id,
            )
    except BaseException:
        for key in restored:
            destroy_quietly(session, key)
        raise
    return RestoreResult(str(path), verified.sha256, session.token.serial, tuple(k.label for k in restored),
                         tuple(skipped))  # fmt: skip


def _record(vault, session: HsmSession, entries: list[KeyEntry], sha256: str, ceremony_id, actor) -> None:
    store = vault.store
    known: dict[str, KeyRecord] = {r.label: r for r in store.list_keys()}
    serial = session.token.serial
    for entry in entries:
        record = known.get(entry.label)
        if record is not None:
            if record.token_serial != serial:
                store.set_key_token(record.id, serial)
            continue
        # The database does not know the key (a vault rebuilt from its bundle): record it as the bundle says.
        initial = KeyState.PRE_ACTIVATION if entry.state is KeyState.PRE_ACTIVATION else KeyState.ACTIVE
        record = store.add_key(
            entry.label, cka_id=entry.cka_id, algorithm=entry.algorithm, fingerprint=entry.fingerprint,
            token_serial=serial, actor=actor, ceremony_id=ceremony_id, state=initial, version=entry.version,
            reason=f"restored from bundle sha256:{sha256[:16]}",
        )  # fmt: skip
        if entry.state is not initial:
            store.transition_key(record.id, entry.state, actor=actor, ceremony_id=ceremony_id,
                                 reason="restored in the state the bundle recorded")  # fmt: skip
    store.set_setting(SETTING_LABEL, session.token.label)
    store.set_setting(SETTING_SERIAL, serial)
    store.set_setting(SETTING_MODEL, f"{session.token.manufacturer} {session.token.model}".strip())
