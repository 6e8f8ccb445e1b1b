"""Custodians, the quorum policy, share sets and who holds which share (never the share)."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from vault.errors import RecordNotFound, StoreError
from vault.store.base import StoreBase
from vault.store.canonical import canonical_json
from vault.store.records import (
    CustodianRecord,
    CustodianStatus,
    PolicyRecord,
    ShareHolderRecord,
    ShareSetRecord,
    ShareSetStatus,
)
from vault.types import Role

Groups = Sequence[tuple[int, int]]

_CUSTODIAN_COLS = (
    "id, name, role, public_key_pem, passphrase_verifier, kdf_params, encrypted_signing_key, status, "
    "enrolled_at, retired_at, enrolled_ceremony_id, retired_ceremony_id"
)
_POLICY_COLS = (
    "id, group_threshold, groups, passphrase, iteration_exponent, drill_interval_days, created_at, ceremony_id"
)
_SET_COLS = (
    "id, name, identifier, group_threshold, groups, iteration_exponent, passphrase, commitment_salt, "
    "check_value, status, created_at, activated_at, retired_at, ceremony_id, policy_id"
)
_HOLDER_COLS = (
    "h.id, h.share_set_id, h.custodian_id, c.name, h.group_index, h.member_index, h.commitment, "
    "h.distributed_at, h.verified_at, h.last_verified_at"
)


def _custodian(r: tuple) -> CustodianRecord:
    return CustodianRecord(
        r[0], r[1], Role(r[2]), r[3], r[4], r[5], r[6], CustodianStatus(r[7]), r[8], r[9], r[10], r[11]
    )


def _groups_json(groups: Groups) -> str:
    pairs = [[int(m), int(n)] for m, n in groups]
    if not pairs or any(not 1 <= m <= n for m, n in pairs):
        raise ValueError("groups must be a non-empty list of (threshold, count) with 1 <= threshold <= count")
    return json.dumps(pairs, separators=(",", ":"))


def _groups(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((m, n) for m, n in json.loads(text))


def _policy(r: tuple) -> PolicyRecord:
    return PolicyRecord(r[0], r[1], _groups(r[2]), bool(r[3]), r[4], r[5], r[6], r[7])


def _share_set(r: tuple) -> ShareSetRecord:
    return ShareSetRecord(
        r[0], r[1], r[2], r[3], _groups(r[4]), r[5], bool(r[6]), r[7], r[8], ShareSetStatus(r[9]),
        r[10], r[11], r[12], r[13], r[14],
    )


class PeopleRepository(StoreBase):
    # --- custodians ------------------------------------------------------------------------------
    def add_custodian(
        self,
        name: str,
        role: Role,
        public_key_pem: str,
        passphrase_verifier: str,
        kdf_params: Mapping | str,
        encrypted_signing_key: str | bytes,
        *,
        ceremony_id: str | None = None,
    ) -> CustodianRecord:
        """Store an enrollment from ``vault.identity`` (all of it public or encrypted)."""
        kdf = kdf_params if isinstance(kdf_params, str) else canonical_json(dict(kdf_params))
        with self._refusals(
            exists=f"A custodian named {name!r} is already enrolled.",
            missing=f"Ceremony {ceremony_id!r} does not exist.",
        ), self.atomic():
            cur = self._write(
                "INSERT INTO custodians (name, role, public_key_pem, passphrase_verifier, kdf_params, "
                "encrypted_signing_key, enrolled_at, enrolled_ceremony_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, Role(role).value, public_key_pem, passphrase_verifier, kdf, encrypted_signing_key,
                 self.now(), ceremony_id),
            )
            return self.get_custodian_by_id(cur.lastrowid)

    def get_custodian(self, name: str) -> CustodianRecord:
        """By name, case-insensitively (ASCII)."""
        return _custodian(self._row(
            f"SELECT {_CUSTODIAN_COLS} FROM custodians WHERE name = ?", (name,),
            f"No custodian named {name!r} is enrolled.",
        ))

    def get_custodian_by_id(self, custodian_id: int) -> CustodianRecord:
        return _custodian(self._row(
            f"SELECT {_CUSTODIAN_COLS} FROM custodians WHERE id = ?", (custodian_id,),
            f"No custodian with id {custodian_id}.",
        ))

    def list_custodians(
        self, *, status: CustodianStatus | None = CustodianStatus.ACTIVE, role: Role | None = None
    ) -> list[CustodianRecord]:
        """Active custodians by default (``status=None`` for all), in enrollment order."""
        sql, params = f"SELECT {_CUSTODIAN_COLS} FROM custodians WHERE 1", []
        if status is not None:
            sql += " AND status = ?"
            params.append(CustodianStatus(status).value)
        if role is not None:
            sql += " AND role = ?"
            params.append(Role(role).value)
        return [_custodian(r) for r in self._rows(sql + " ORDER BY id", params)]

    def retire_custodian(self, name: str, *, ceremony_id: str | None = None) -> CustodianRecord:
        with self._refusals(missing=f"Ceremony {ceremony_id!r} does not exist."), self.atomic():
            current = self.get_custodian(name)
            if current.status is CustodianStatus.RETIRED:
                raise StoreError(f"Custodian {current.name!r} is already retired.",
                                 next_step="Nothing to do; list custodians to check.")
            self._write(
                "UPDATE custodians SET status = 'retired', retired_at = ?, retired_ceremony_id = ? WHERE id = ?",
                (self.now(), ceremony_id, current.id),
            )
            return self.get_custodian_by_id(current.id)

    def custodians_enrolled_by(self, ceremony_id: str) -> list[CustodianRecord]:
        return [_custodian(r) for r in self._rows(
            f"SELECT {_CUSTODIAN_COLS} FROM custodians WHERE enrolled_ceremony_id = ? ORDER BY id", (ceremony_id,))]

    def withdraw_custodian(self, custodian_id: int) -> bool:
        """Remove an enrollment nothing refers to (no share held, no attestation): the undo of a
        failed init's enrollments. False (and nothing changed) when something refers to it."""
        with self.atomic():
            used = self._rows(
                "SELECT (SELECT count(*) FROM share_holders WHERE custodian_id = ?) + "
                "(SELECT count(*) FROM attestations WHERE custodian_id = ?)", (custodian_id, custodian_id))[0][0]
            if used:
                return False
            self._write("DELETE FROM custodians WHERE id = ?", (custodian_id,))
            return True

    # --- quorum policy ---------------------------------------------------------------------------
    def add_policy(
        self,
        group_threshold: int,
        groups: Groups,
        *,
        passphrase: bool,
        iteration_exponent: int,
        drill_interval_days: int,
        ceremony_id: str | None = None,
    ) -> PolicyRecord:
        """A new policy row; the latest one is the current policy (``current_policy``)."""
        with self._refusals(missing=f"Ceremony {ceremony_id!r} does not exist."), self.atomic():
            cur = self._write(
                "INSERT INTO quorum_policies (group_threshold, groups, passphrase, iteration_exponent, "
                "drill_interval_days, created_at, ceremony_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (group_threshold, _groups_json(groups), int(bool(passphrase)), iteration_exponent,
                 drill_interval_days, self.now(), ceremony_id),
            )
            return _policy(self._row(f"SELECT {_POLICY_COLS} FROM quorum_policies WHERE id = ?",
                                     (cur.lastrowid,), "policy vanished"))

    def current_policy(self) -> PolicyRecord | None:
        rows = self._rows(f"SELECT {_POLICY_COLS} FROM quorum_policies ORDER BY id DESC LIMIT 1")
        return _policy(rows[0]) if rows else None

    def list_policies(self) -> list[PolicyRecord]:
        return [_policy(r) for r in self._rows(f"SELECT {_POLICY_COLS} FROM quorum_policies ORDER BY id")]

    # --- share sets ------------------------------------------------------------------------------
    def add_share_set(
        self,
        name: str,
        *,
        identifier: int,
        group_threshold: int,
        groups: Groups,
        iteration_exponent: int,
        passphrase: bool,
        commitment_salt: str,
        check_value: str,
        ceremony_id: str | None = None,
        policy_id: int | None = None,
    ) -> ShareSetRecord:
        """A new share set in status ``pending``: it opens nothing until ``activate_share_set``."""
        with self._refusals(
            exists=f"A share set named {name!r} already exists.",
            missing="The ceremony or policy this share set refers to does not exist.",
        ), self.atomic():
            cur = self._write(
                "INSERT INTO share_sets (name, identifier, group_threshold, groups, iteration_exponent, "
                "passphrase, commitment_salt, check_value, created_at, ceremony_id, policy_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, identifier, group_threshold, _groups_json(groups), iteration_exponent,
                 int(bool(passphrase)), commitment_salt, check_value, self.now(), ceremony_id, policy_id),
            )
            return self.get_share_set(cur.lastrowid)

    def get_share_set(self, share_set_id: int) -> ShareSetRecord:
        return _share_set(self._row(f"SELECT {_SET_COLS} FROM share_sets WHERE id = ?", (share_set_id,),
                                    f"No share set with id {share_set_id}."))

    def get_share_set_by_name(self, name: str) -> ShareSetRecord:
        return _share_set(self._row(f"SELECT {_SET_COLS} FROM share_sets WHERE name = ?", (name,),
                                    f"No share set named {name!r}."))

    def list_share_sets(self, *, status: ShareSetStatus | None = None) -> list[ShareSetRecord]:
        if status is None:
            rows = self._rows(f"SELECT {_SET_COLS} FROM share_sets ORDER BY id")
        else:
            rows = self._rows(f"SELECT {_SET_COLS} FROM share_sets WHERE status = ? ORDER BY id",
                              (ShareSetStatus(status).value,))
        return [_share_set(r) for r in rows]

    def active_share_set(self) -> ShareSetRecord | None:
        rows = self._rows(f"SELECT {_SET_COLS} FROM share_sets WHERE status = 'active'")
        return _share_set(rows[0]) if rows else None

    def activate_share_set(self, share_set_id: int) -> ShareSetRecord:
        """pending -> active, retiring the previously active set in the same transaction.

        Refused unless the set has share holders and every one of them has verified their share
        back (new shares stay inactive until verified).
        """
        with self.atomic():
            target = self.get_share_set(share_set_id)
            if target.status is not ShareSetStatus.PENDING:
                raise StoreError(
                    f"Share set {target.name!r} is {target.status.value}; only a pending set can be activated.",
                    next_step="Create a new share set with a reshare ceremony.",
                )
            holders = self.share_holders(share_set_id)
            unverified = [f"{h.custodian_name} (group {h.group_index + 1}, member {h.member_index + 1})"
                          for h in holders if h.verified_at is None]
            if not holders or unverified:
                who = ", ".join(unverified) if unverified else "no share holders recorded"
                raise StoreError(
                    f"Share set {target.name!r} cannot be activated: not every share was verified back "
                    f"({who}).",
                    next_step="Have each custodian re-enter their share before activating the set.",
                )
            now = self.now()
            self._write("UPDATE share_sets SET status = 'retired', retired_at = ? WHERE status = 'active'", (now,))
            self._write("UPDATE share_sets SET status = 'active', activated_at = ? WHERE id = ?", (now, target.id))
            return self.get_share_set(target.id)

    def retire_share_set(self, share_set_id: int) -> ShareSetRecord:
        """pending or active -> retired (an abandoned or superseded set)."""
        with self.atomic():
            target = self.get_share_set(share_set_id)
            if target.status is ShareSetStatus.RETIRED:
                raise StoreError(f"Share set {target.name!r} is already retired.",
                                 next_step="Nothing to do; list share sets to check.")
            self._write("UPDATE share_sets SET status = 'retired', retired_at = ? WHERE id = ?",
                        (self.now(), target.id))
            return self.get_share_set(target.id)

    # --- share holders ---------------------------------------------------------------------------
    def add_share_holder(
        self, share_set_id: int, custodian_id: int, *, group_index: int, member_index: int, commitment: str
    ) -> ShareHolderRecord:
        """Record that a custodian holds share (group, member) of a set, with its commitment."""
        with self._refusals(
            exists=f"Share (group {group_index + 1}, member {member_index + 1}) of share set {share_set_id} "
                   "already has a holder.",
            missing=f"Share set {share_set_id} or custodian {custodian_id} does not exist.",
        ), self.atomic():
            cur = self._write(
                "INSERT INTO share_holders (share_set_id, custodian_id, group_index, member_index, commitment) "
                "VALUES (?, ?, ?, ?, ?)",
                (share_set_id, custodian_id, group_index, member_index, commitment),
            )
            return self.get_share_holder(cur.lastrowid)

    def get_share_holder(self, holder_id: int) -> ShareHolderRecord:
        return ShareHolderRecord(*self._row(
            f"SELECT {_HOLDER_COLS} FROM share_holders h JOIN custodians c ON c.id = h.custodian_id "
            "WHERE h.id = ?", (holder_id,), f"No share holder with id {holder_id}.",
        ))

    def share_holders(self, share_set_id: int) -> list[ShareHolderRecord]:
        """Holders of a set, in (group, member) order."""
        return [ShareHolderRecord(*r) for r in self._rows(
            f"SELECT {_HOLDER_COLS} FROM share_holders h JOIN custodians c ON c.id = h.custodian_id "
            "WHERE h.share_set_id = ? ORDER BY h.group_index, h.member_index", (share_set_id,),
        )]

    def holdings_of(self, custodian_id: int) -> list[ShareHolderRecord]:
        """Every share (of any set) a custodian holds; used when retiring or replacing someone."""
        return [ShareHolderRecord(*r) for r in self._rows(
            f"SELECT {_HOLDER_COLS} FROM share_holders h JOIN custodians c ON c.id = h.custodian_id "
            "WHERE h.custodian_id = ? ORDER BY h.share_set_id, h.group_index, h.member_index", (custodian_id,),
        )]

    def mark_share_distributed(self, holder_id: int) -> ShareHolderRecord:
        return self._stamp_holder(holder_id, "distributed_at = :now")

    def mark_share_verified(self, holder_id: int) -> ShareHolderRecord:
        """Set ``verified_at`` the first time, ``last_verified_at`` every time."""
        return self._stamp_holder(holder_id, "verified_at = coalesce(verified_at, :now), last_verified_at = :now")

    def _stamp_holder(self, holder_id: int, assignment: str) -> ShareHolderRecord:
        with self.atomic():
            cur = self._write(f"UPDATE share_holders SET {assignment} WHERE id = :id",
                              {"now": self.now(), "id": holder_id})
            if cur.rowcount == 0:
                raise RecordNotFound(f"No share holder with id {holder_id}.")
            return self.get_share_holder(holder_id)
