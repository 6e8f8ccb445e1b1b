"""Values of the quorum: share references, a share set's public record, collection progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vault.secret import Secret
from vault.shares.policy import GroupSpec, QuorumPolicy
from vault.shares.words import set_words

#: A 32-byte quorum secret gives SLIP-39 shares of 33 words.
SHARE_WORDS = 33


@dataclass(frozen=True, slots=True, order=True)
class ShareRef:
    """Which share: group and member index, 0-based as SLIP-39 numbers them."""

    group: int
    member: int

    def describe(self, *, capital: bool = False, holder: str | None = None) -> str:
        """For people: 1-based, e.g. "member 3 of group 1" ("Member 3 ..." to start a sentence);
        with the custodian who holds it, "the share of alice (member 3 of group 1)"."""
        where = f"member {self.member + 1} of group {self.group + 1}"
        if holder:
            return f"{'T' if capital else 't'}he share of {holder} ({where})"
        return where[0].upper() + where[1:] if capital else where


@dataclass(frozen=True, slots=True)
class ShareSetPublic:
    """What is stored about a share set. Safe to store and show: it never contains a share."""

    identifier: int
    iteration_exponent: int
    group_threshold: int
    groups: tuple[GroupSpec, ...]
    commitment_salt: str  # hex, 16 random bytes per set
    commitments: tuple[tuple[ShareRef, str], ...]  # hex HMAC-SHA256, see vault.shares.derive
    check_value: str  # hex, HKDF of the quorum secret
    extendable: bool = True
    passphrase: bool = False

    @property
    def identifying_words(self) -> str:
        """The two words every share of this set starts with."""
        return set_words(self.identifier, self.extendable, self.iteration_exponent)

    @property
    def policy(self) -> QuorumPolicy:
        return QuorumPolicy(self.group_threshold, self.groups, self.passphrase, self.iteration_exponent)

    @property
    def word_count(self) -> int:
        return SHARE_WORDS

    def commitment(self, ref: ShareRef) -> str | None:
        return dict(self.commitments).get(ref)

    def refs(self) -> tuple[ShareRef, ...]:
        return tuple(ShareRef(g, m) for g, spec in enumerate(self.groups) for m in range(spec.count))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the store."""
        return {
            "identifier": self.identifier,
            "iteration_exponent": self.iteration_exponent,
            "group_threshold": self.group_threshold,
            "groups": [[g.threshold, g.count] for g in self.groups],
            "commitment_salt": self.commitment_salt,
            "commitments": [[r.group, r.member, c] for r, c in self.commitments],
            "check_value": self.check_value,
            "extendable": self.extendable,
            "passphrase": self.passphrase,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ShareSetPublic":
        return cls(
            identifier=int(data["identifier"]),
            iteration_exponent=int(data["iteration_exponent"]),
            group_threshold=int(data["group_threshold"]),
            groups=tuple(GroupSpec(int(t), int(n)) for t, n in data["groups"]),
            commitment_salt=str(data["commitment_salt"]),
            commitments=tuple((ShareRef(int(g), int(m)), str(c)) for g, m, c in data["commitments"]),
            check_value=str(data["check_value"]),
            extendable=bool(data.get("extendable", True)),
            passphrase=bool(data.get("passphrase", False)),
        )


@dataclass(frozen=True, slots=True)
class KnownShareSet:
    """A share set the console has a record of, so a stray share can be named."""

    share_set_id: int
    public: ShareSetPublic
    name: str
    status: str  # "active" | "retired" | "pending"
    retired_at: str | None = None
    holders: tuple[tuple[ShareRef, str], ...] = ()  # who holds each share (custodian names), when known

    def holder(self, ref: ShareRef) -> str | None:
        return dict(self.holders).get(ref)


@dataclass(frozen=True, slots=True)
class SplitResult:
    public: ShareSetPublic
    shares: tuple[tuple[ShareRef, Secret], ...]  # Secret = the mnemonic text

    def share(self, ref: ShareRef) -> Secret:
        return dict(self.shares)[ref]

    def wipe(self) -> None:
        for _, secret in self.shares:
            secret.wipe()


@dataclass(frozen=True, slots=True)
class GroupProgress:
    group: int  # 0-based
    entered: int
    threshold: int
    count: int

    @property
    def complete(self) -> bool:
        return self.entered >= self.threshold

    def describe(self) -> str:
        return f"{min(self.entered, self.threshold)} of {self.threshold} shares"


@dataclass(frozen=True, slots=True)
class Progress:
    groups: tuple[GroupProgress, ...]
    group_threshold: int
    last: ShareRef | None = None  # the share just accepted

    @property
    def groups_complete(self) -> int:
        return sum(g.complete for g in self.groups)

    @property
    def is_complete(self) -> bool:
        return self.groups_complete >= self.group_threshold

    def describe(self) -> str:
        """E.g. "2 of 3 shares", or "group 1: 2 of 2 shares; group 2: 1 of 3 shares; 1 of 2 groups complete"."""
        if len(self.groups) == 1 and self.group_threshold == 1:
            return self.groups[0].describe()
        parts = [f"group {g.group + 1}: {g.describe()}" for g in self.groups]
        parts.append(f"{self.groups_complete} of {self.group_threshold} groups complete")
        return "; ".join(parts)
