"""Master keys, their NIST SP 800-57 lifecycle and the backups that hold them."""

from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator

from vault.errors import RecordNotFound, StoreError, TransitionRefused
from vault.store.base import StoreBase
from vault.store.records import (
    KeyNameRecord,
    STATE_TIME_COLUMN,
    BackupDecision,
    BackupKeyRecord,
    BackupRecord,
    KeyRecord,
    KeyTransitionRecord,
    NewBackup,
)
from vault.keynames import KeyRef
from vault.types import ALLOWED_TRANSITIONS, KeyAlgorithm, KeyPurpose, KeyState, RevocationReason

_KEY_COLS = (
    "id, label, cka_id, algorithm, state, version, lineage, previous_key_id, fingerprint, backup_decision, "
    "no_backup_reason, token_serial, ceremony_id, created_at, pre_activation_at, activated_at, suspended_at, "
    "deactivated_at, compromised_at, destroyed_at, destroyed_compromised_at, purpose, activate_after, "
    "cryptoperiod_days, expires_at, revocation_reason"
)
_NAME_COLS = "name, min_decryption_version, created_at, ceremony_id"
_HISTORY_COLS = "id, key_id, from_state, to_state, at, actor, ceremony_id, reason"
_BACKUP_COLS = "id, path, sha256, format_version, share_set_id, kek_check_value, key_count, created_at, ceremony_id"

#: States a key may be created in: generated keys start in pre-activation; a restore or an import
#: that re-creates a key already in use may record it as active directly.
INITIAL_STATES = frozenset({KeyState.PRE_ACTIVATION, KeyState.ACTIVE})


def _key(r: tuple) -> KeyRecord:
    return KeyRecord(
        r[0], r[1], r[2], KeyAlgorithm(r[3]), KeyState(r[4]), r[5], r[6], r[7], r[8], BackupDecision(r[9]),
        *r[10:21], KeyPurpose(r[21]), r[22], r[23], r[24], None if r[25] is None else RevocationReason(r[25]),
    )


def _transition(r: tuple) -> KeyTransitionRecord:
    return KeyTransitionRecord(r[0], r[1], None if r[2] is None else KeyState(r[2]), KeyState(r[3]), *r[4:])


def allowed_next_states(state: KeyState) -> list[KeyState]:
    return [b for b in KeyState if (state, b) in ALLOWED_TRANSITIONS]


class KeyRepository(StoreBase):
    # --- keys ------------------------------------------------------------------------------------
    def add_key(
        self,
        label: str,
        *,
        cka_id: str,
        algorithm: KeyAlgorithm,
        fingerprint: str,
        token_serial: str,
        actor: str,
        ceremony_id: str | None = None,
        backup: BackupDecision = BackupDecision.BACKED_UP,
        no_backup_reason: str | None = None,
        state: KeyState = KeyState.PRE_ACTIVATION,
        lineage: str | None = None,
        version: int = 1,
        previous_key_id: int | None = None,
        reason: str = "generated",
        purpose: KeyPurpose | None = None,
        activate_after: str | None = None,
        cryptoperiod_days: int | None = None,
    ) -> KeyRecord:
        """Insert a key and its first history row (from None) in one transaction.

        ``lineage`` (the key's name) defaults to the label; versions of one name are unique.
        The name is recorded in ``key_names`` on its first version. ``purpose`` defaults to
        encrypt for AES and sign for key pairs; ``cryptoperiod_days`` sets ``expires_at`` when
        the key becomes active.
        """
        state, backup = KeyState(state), BackupDecision(backup)
        purpose = KeyPurpose(purpose) if purpose is not None else KeyPurpose.default_for(KeyAlgorithm(algorithm))
        if not purpose.allows(KeyAlgorithm(algorithm)):
            raise ValueError(f"purpose {purpose.value} does not fit {KeyAlgorithm(algorithm).value}")
        if state not in INITIAL_STATES:
            raise ValueError(f"a key is created in {sorted(s.value for s in INITIAL_STATES)}, not {state.value}")
        if (backup is BackupDecision.NO_BACKUP) != bool(no_backup_reason):
            raise ValueError("no_backup_reason is required with NO_BACKUP and only with it")
        now = self.now()
        with self._refusals(
            exists=f"A key labelled {label!r} (or version {version} of lineage {lineage or label!r}) already exists.",
            missing="The ceremony or previous key this key refers to does not exist.",
        ), self.atomic():
            self._write(
                "INSERT OR IGNORE INTO key_names (name, min_decryption_version, created_at, ceremony_id) "
                "VALUES (?, 1, ?, ?)", (lineage or label, now, ceremony_id),
            )
            expires = _expiry(now, cryptoperiod_days) if state is KeyState.ACTIVE else None
            cur = self._write(
                f"INSERT INTO keys (label, cka_id, algorithm, state, version, lineage, previous_key_id, fingerprint, "
                f"backup_decision, no_backup_reason, token_serial, ceremony_id, created_at, purpose, activate_after, "
                f"cryptoperiod_days, expires_at, {STATE_TIME_COLUMN[state]}) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (label, cka_id, KeyAlgorithm(algorithm).value, state.value, version, lineage or label,
                 previous_key_id, fingerprint, backup.value, no_backup_reason, token_serial, ceremony_id, now,
                 purpose.value, activate_after, cryptoperiod_days, expires, now),
            )
            key_id = cur.lastrowid
            self._history(key_id, None, state, now, actor, ceremony_id, reason)
            return self.get_key(key_id)

    def get_key(self, key_id: int) -> KeyRecord:
        return _key(self._row(f"SELECT {_KEY_COLS} FROM keys WHERE id = ?", (key_id,), f"No key with id {key_id}."))

    def get_key_by_label(self, label: str) -> KeyRecord:
        return _key(self._row(
            f"SELECT {_KEY_COLS} FROM keys WHERE label = ?", (label,),
            f"No key labelled {label!r} in the database.",
        ))

    def list_keys(self, state: KeyState | None = None, *, lineage: str | None = None) -> list[KeyRecord]:
        """All keys (tombstones included) or those in ``state``, in creation order."""
        sql, params = f"SELECT {_KEY_COLS} FROM keys WHERE 1", []
        if state is not None:
            sql += " AND state = ?"
            params.append(KeyState(state).value)
        if lineage is not None:
            sql += " AND lineage = ?"
            params.append(lineage)
        return [_key(r) for r in self._rows(sql + " ORDER BY id", params)]

    def iter_keys(
        self,
        states: Iterable[KeyState] | None = None,
        *,
        backup: BackupDecision | None = None,
        page: int = 1000,
    ) -> Iterator[KeyRecord]:
        """Keys (in ``states``, with ``backup`` decision) in creation order, read ``page`` rows at
        a time: memory does not grow with the number of keys. Each page is its own query (keyset
        paging on id), so the caller may write to the store between pages."""
        where, params = self._key_filter(states, backup)
        last = 0
        while True:
            rows = self._rows(
                f"SELECT {_KEY_COLS} FROM keys WHERE id > ?{where} ORDER BY id LIMIT ?", [last, *params, page]
            )
            for row in rows:
                yield _key(row)
            if len(rows) < page:
                return
            last = rows[-1][0]

    def count_keys(self, states: Iterable[KeyState] | None = None, *, backup: BackupDecision | None = None) -> int:
        where, params = self._key_filter(states, backup)
        return self._rows(f"SELECT count(*) FROM keys WHERE 1{where}", params)[0][0]

    def keys_by_labels(self, labels: Iterable[str]) -> dict[str, KeyRecord]:
        """label -> KeyRecord for those of ``labels`` the database knows (one query per 500 labels)."""
        wanted = list(dict.fromkeys(labels))
        found: dict[str, KeyRecord] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._rows(f"SELECT {_KEY_COLS} FROM keys WHERE label IN ({marks})", chunk):
                found[row[1]] = _key(row)
        return found

    @staticmethod
    def _key_filter(states: Iterable[KeyState] | None, backup: BackupDecision | None) -> tuple[str, list]:
        where, params = "", []
        if states is not None:
            values = sorted({KeyState(s).value for s in states})
            where += f" AND state IN ({', '.join('?' * len(values))})" if values else " AND 0"
            params += values
        if backup is not None:
            where += " AND backup_decision = ?"
            params.append(BackupDecision(backup).value)
        return where, params

    def latest_version(self, lineage: str) -> KeyRecord:
        return _key(self._row(
            f"SELECT {_KEY_COLS} FROM keys WHERE lineage = ? ORDER BY version DESC LIMIT 1", (lineage,),
            f"No key lineage named {lineage!r}.",
        ))

    def set_keys_token(self, key_ids: Iterable[int], token_serial: str) -> int:
        """``set_key_token`` for many keys in one statement batch; returns how many were updated."""
        with self.atomic():
            cur = self.conn.executemany(
                "UPDATE keys SET token_serial = ? WHERE id = ?", ((token_serial, key_id) for key_id in key_ids)
            )
            return cur.rowcount

    def set_key_token(self, key_id: int, token_serial: str) -> KeyRecord:
        """After a restore onto a replacement token: the key now lives on ``token_serial``."""
        with self.atomic():
            if self._write("UPDATE keys SET token_serial = ? WHERE id = ?", (token_serial, key_id)).rowcount == 0:
                raise RecordNotFound(f"No key with id {key_id}.")
            return self.get_key(key_id)

    # --- names -----------------------------------------------------------------------------------
    def get_key_name(self, name: str) -> KeyNameRecord:
        return KeyNameRecord(*self._row(f"SELECT {_NAME_COLS} FROM key_names WHERE name = ?", (name,),
                                        f"No key named {name!r} in this vault."))

    def list_key_names(self) -> list[KeyNameRecord]:
        return [KeyNameRecord(*r) for r in self._rows(f"SELECT {_NAME_COLS} FROM key_names ORDER BY name")]

    def key_versions(self, name: str) -> list[KeyRecord]:
        """Every version of ``name``, oldest first."""
        return [_key(r) for r in self._rows(f"SELECT {_KEY_COLS} FROM keys WHERE lineage = ? ORDER BY version",
                                            (name,))]

    def resolve_key(self, ref: KeyRef | str) -> KeyRecord:
        """``name`` (newest active version; else newest version), ``name@N``, or a token label."""
        ref = KeyRef.parse(ref) if isinstance(ref, str) else ref
        if ref.version is not None:
            return _key(self._row(
                f"SELECT {_KEY_COLS} FROM keys WHERE lineage = ? AND version = ?", (ref.name, ref.version),
                f"No version {ref.version} of a key named {ref.name!r} in this vault.",
            ))
        rows = self._rows(
            f"SELECT {_KEY_COLS} FROM keys WHERE lineage = ? ORDER BY (state = 'active') DESC, version DESC LIMIT 1",
            (ref.name,),
        )
        if rows:
            return _key(rows[0])
        return self.get_key_by_label(ref.name)  # a label (e.g. a legacy custom rotation label)

    def set_min_decryption_version(self, name: str, version: int) -> KeyNameRecord:
        """Raise the minimum version that may still decrypt (never lower; never past the newest)."""
        with self.atomic():
            current = self.get_key_name(name)
            newest = self.latest_version(name).version
            if not (current.min_decryption_version <= version <= newest):
                raise TransitionRefused(
                    f"The minimum decryption version of {name!r} is {current.min_decryption_version}; "
                    f"it can be raised up to {newest}, not set to {version}.",
                    next_step=f"Give a version from {current.min_decryption_version} to {newest}.",
                )
            self._write("UPDATE key_names SET min_decryption_version = ? WHERE name = ?", (version, name))
            return self.get_key_name(name)

    def keys_expiring(self, before: str) -> list[KeyRecord]:
        """Active or suspended keys whose cryptoperiod ends before ``before`` (ISO time), soonest first."""
        return [_key(r) for r in self._rows(
            f"SELECT {_KEY_COLS} FROM keys WHERE state IN ('active', 'suspended') AND expires_at IS NOT NULL "
            "AND expires_at < ? ORDER BY expires_at", (before,),
        )]

    # --- lifecycle -------------------------------------------------------------------------------
    def transition_key(
        self, key_id: int, new_state: KeyState, *, actor: str, ceremony_id: str | None, reason: str,
        revocation: RevocationReason | None = None,
    ) -> KeyRecord:
        """Move a key to ``new_state`` if SP 800-57 allows it: state, lifecycle time, history row, atomically.

        Raises ``TransitionRefused`` naming both states; ``RecordNotFound`` for an unknown key.
        """
        new_state = KeyState(new_state)
        now = self.now()
        with self._refusals(missing=f"Ceremony {ceremony_id!r} does not exist."), self.atomic():
            key = self.get_key(key_id)
            if (key.state, new_state) not in ALLOWED_TRANSITIONS:
                raise _refused(key, new_state)
            extra, extra_params = "", []
            if new_state is KeyState.ACTIVE and key.expires_at is None and key.cryptoperiod_days:
                extra, extra_params = ", expires_at = ?", [_expiry(now, key.cryptoperiod_days)]
            if revocation is not None:
                extra += ", revocation_reason = ?"
                extra_params.append(RevocationReason(revocation).value)
            try:
                cur = self._write(
                    f"UPDATE keys SET state = ?, {STATE_TIME_COLUMN[new_state]} = ?{extra} WHERE id = ? AND state = ?",
                    (new_state.value, now, *extra_params, key_id, key.state.value),
                )
            except sqlite3.IntegrityError as exc:
                if "transition not allowed" in str(exc):  # the schema trigger agrees with the code
                    raise _refused(key, new_state) from None
                raise
            if cur.rowcount != 1:
                raise StoreError(f"Key {key.label!r} changed state while it was being updated.",
                                 next_step="Show the key again and retry.")
            self._history(key_id, key.state, new_state, now, actor, ceremony_id, reason)
            return self.get_key(key_id)

    def rotate_key(
        self,
        previous_key_id: int,
        label: str,
        *,
        cka_id: str,
        fingerprint: str,
        token_serial: str,
        actor: str,
        ceremony_id: str | None,
        backup: BackupDecision = BackupDecision.BACKED_UP,
        no_backup_reason: str | None = None,
    ) -> KeyRecord:
        """The next version of a lineage, made active, and the previous one deactivated, atomically."""
        with self.atomic():
            old = self.get_key(previous_key_id)
            if old.state not in (KeyState.ACTIVE, KeyState.SUSPENDED):
                raise TransitionRefused(
                    f"Key {old.label!r} is {old.state.value}; only an active or suspended key can be rotated.",
                )
            new = self.add_key(
                label, cka_id=cka_id, algorithm=old.algorithm, fingerprint=fingerprint, token_serial=token_serial,
                actor=actor, ceremony_id=ceremony_id, backup=backup, no_backup_reason=no_backup_reason,
                lineage=old.lineage, version=old.version + 1, previous_key_id=old.id, reason="rotation: generated",
                purpose=old.purpose, cryptoperiod_days=old.cryptoperiod_days,
            )
            new = self.transition_key(new.id, KeyState.ACTIVE, actor=actor, ceremony_id=ceremony_id,
                                      reason=f"rotation: replaces {old.label}")
            self.transition_key(old.id, KeyState.DEACTIVATED, actor=actor, ceremony_id=ceremony_id,
                                reason=f"rotation: replaced by {label}")
            return new

    def key_history(self, key_id: int) -> list[KeyTransitionRecord]:
        """Every state the key entered, oldest first (the first row, from None, is its creation)."""
        self.get_key(key_id)
        return [_transition(r) for r in self._rows(
            f"SELECT {_HISTORY_COLS} FROM key_state_history WHERE key_id = ? ORDER BY id", (key_id,)
        )]

    def _history(self, key_id, from_state, to_state, at, actor, ceremony_id, reason) -> None:
        self._write(
            "INSERT INTO key_state_history (key_id, from_state, to_state, at, actor, ceremony_id, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key_id, None if from_state is None else from_state.value, to_state.value, at, actor, ceremony_id,
             reason),
        )

    # --- backups ---------------------------------------------------------------------------------
    def record_backup(self, backup: NewBackup, key_entries: Iterable[tuple[int, str]]) -> BackupRecord:
        """A written and read-back bundle and the (key id, fingerprint) of every key in it, atomically.

        ``key_entries`` is read once and streamed into the table (it may be a generator, e.g.
        over ``iter_keys``); an exception it raises rolls everything back. A key id twice ->
        ValueError.
        """
        with self._refusals(
            missing="The share set, ceremony or one of the keys of this backup does not exist.",
        ), self.atomic():
            cur = self._write(
                "INSERT INTO backups (path, sha256, format_version, share_set_id, kek_check_value, key_count, "
                "created_at, ceremony_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (backup.path, backup.sha256, backup.format_version, backup.share_set_id, backup.kek_check_value,
                 0, self.now(), backup.ceremony_id),
            )
            backup_id = cur.lastrowid
            count = 0

            def rows() -> Iterator[tuple[int, int, str]]:
                nonlocal count
                for key_id, fingerprint in key_entries:
                    count += 1
                    yield backup_id, key_id, fingerprint

            try:
                self.conn.executemany("INSERT INTO backup_keys (backup_id, key_id, fingerprint) VALUES (?, ?, ?)",
                                      rows())  # fmt: skip
            except sqlite3.IntegrityError as exc:
                if str(exc).startswith("UNIQUE constraint failed"):
                    raise ValueError("a key appears twice in key_entries") from None
                raise
            self._write("UPDATE backups SET key_count = ? WHERE id = ?", (count, backup_id))
            return self.get_backup(backup_id)

    def get_backup(self, backup_id: int) -> BackupRecord:
        return BackupRecord(*self._row(f"SELECT {_BACKUP_COLS} FROM backups WHERE id = ?", (backup_id,),
                                       f"No backup with id {backup_id}."))

    def get_backup_by_sha256(self, sha256: str) -> BackupRecord:
        """The latest backup record of a bundle with this digest (copies share a digest)."""
        return BackupRecord(*self._row(
            f"SELECT {_BACKUP_COLS} FROM backups WHERE sha256 = ? ORDER BY id DESC LIMIT 1", (sha256.lower(),),
            "No backup with this SHA-256 is recorded.",
        ))

    def list_backups(self) -> list[BackupRecord]:
        return [BackupRecord(*r) for r in self._rows(f"SELECT {_BACKUP_COLS} FROM backups ORDER BY id")]

    def latest_backup(self) -> BackupRecord | None:
        rows = self._rows(f"SELECT {_BACKUP_COLS} FROM backups ORDER BY id DESC LIMIT 1")
        return BackupRecord(*rows[0]) if rows else None

    def backup_keys(self, backup_id: int) -> list[BackupKeyRecord]:
        self.get_backup(backup_id)
        return [BackupKeyRecord(*r) for r in self._rows(
            "SELECT bk.backup_id, bk.key_id, k.label, bk.fingerprint FROM backup_keys bk "
            "JOIN keys k ON k.id = bk.key_id WHERE bk.backup_id = ? ORDER BY k.id", (backup_id,),
        )]

    def iter_backup_keys(self, backup_id: int, *, page: int = 1000) -> Iterator[tuple[KeyRecord, str]]:
        """(key record, fingerprint as written into the bundle) of every key of a backup, in key
        creation order (the order a backup writes them), ``page`` rows per query."""
        self.get_backup(backup_id)
        cols = ", ".join(f"k.{c.strip()}" for c in _KEY_COLS.split(","))
        last = 0
        while True:
            rows = self._rows(
                f"SELECT {cols}, bk.fingerprint FROM backup_keys bk JOIN keys k ON k.id = bk.key_id "
                "WHERE bk.backup_id = ? AND k.id > ? ORDER BY k.id LIMIT ?", (backup_id, last, page),
            )
            for row in rows:
                yield _key(row[:-1]), row[-1]
            if len(rows) < page:
                return
            last = rows[-1][0]

    def backups_of_ceremony(self, ceremony_id: str) -> list[BackupRecord]:
        return [BackupRecord(*r) for r in self._rows(
            f"SELECT {_BACKUP_COLS} FROM backups WHERE ceremony_id = ? ORDER BY id", (ceremony_id,))]

    def withdraw_backup(self, backup_id: int) -> bool:
        """Remove a backup row and its key list when no drill refers to it: the undo of a ceremony
        aborted after writing it. False (and nothing changed) when a drill refers to it."""
        with self.atomic():
            if self._rows("SELECT count(*) FROM drills WHERE backup_id = ?", (backup_id,))[0][0]:
                return False
            self._write("DELETE FROM backup_keys WHERE backup_id = ?", (backup_id,))
            self._write("DELETE FROM backups WHERE id = ?", (backup_id,))
            return True

    def backups_holding(self, key_id: int) -> list[BackupRecord]:
        """Every backup that contains the key (destruction lists these: they still hold it)."""
        self.get_key(key_id)
        cols = ", ".join(f"b.{c.strip()}" for c in _BACKUP_COLS.split(","))
        return [BackupRecord(*r) for r in self._rows(
            f"SELECT {cols} FROM backups b JOIN backup_keys bk ON bk.backup_id = b.id "
            "WHERE bk.key_id = ? ORDER BY b.id", (key_id,),
        )]


def _expiry(start_iso: str, days: int | None) -> str | None:
    if not days:
        return None
    from datetime import datetime, timedelta

    from vault.store.clock import iso

    return iso(datetime.fromisoformat(start_iso.replace("Z", "+00:00")) + timedelta(days=days))


def _refused(key: KeyRecord, new_state: KeyState) -> TransitionRefused:
    allowed = ", ".join(s.value for s in allowed_next_states(key.state)) or "none (final state)"
    exc = TransitionRefused(
        f"Key {key.label!r} cannot go from {key.state.value} to {new_state.value}.",
        next_step=f"From {key.state.value} a key may go to: {allowed}.",
    )
    exc.from_state, exc.to_state = key.state, new_state  # for callers that branch on them
    return exc

