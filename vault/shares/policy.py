"""Quorum policies: who must come together, checked against SLIP-39's limits before any split.

SLIP-39 limits (refused here with ``PolicyInvalid``, before a secret or share exists):

* 1 to 16 groups; a group threshold between 1 and the number of groups;
* 1 to 16 members per group; a member threshold between 1 and the member count;
* no 1-of-n with n > 1 (every share would be the whole group secret: use 1-of-1 instead);
* an iteration exponent between 0 and 15 (PBKDF2 runs 10000 << e iterations in total);
* a passphrase of printable ASCII (code points 32..126) only.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.errors import PolicyInvalid
from vault.secret import Secret

MAX_GROUPS = 16
MAX_SHARES_PER_GROUP = 16
MAX_ITERATION_EXPONENT = 15


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """``threshold``-of-``count`` custodians within one group."""

    threshold: int
    count: int

    def describe(self) -> str:
        return f"{self.threshold}-of-{self.count}"


@dataclass(frozen=True, slots=True)
class QuorumPolicy:
    group_threshold: int
    groups: tuple[GroupSpec, ...]
    passphrase: bool = False
    iteration_exponent: int = 1

    @classmethod
    def simple(cls, m: int, n: int, *, passphrase: bool = False, iteration_exponent: int = 1) -> "QuorumPolicy":
        """One group: any ``m`` of ``n`` custodians."""
        return cls(1, (GroupSpec(m, n),), passphrase, iteration_exponent)

    @property
    def is_simple(self) -> bool:
        return self.group_threshold == 1 and len(self.groups) == 1

    def describe(self) -> str:
        if self.is_simple:
            text = self.groups[0].describe()
        else:
            members = ", ".join(g.describe() for g in self.groups)
            text = f"{self.group_threshold} of {len(self.groups)} groups ({members})"
        return text + (" + passphrase" if self.passphrase else "")

    def validate(self) -> None:
        """Raise ``PolicyInvalid`` naming the first SLIP-39 limit this policy breaks."""
        _check_int("The group threshold", self.group_threshold)
        _check_int("The iteration exponent", self.iteration_exponent)
        if not isinstance(self.groups, tuple) or not all(isinstance(g, GroupSpec) for g in self.groups):
            raise TypeError("QuorumPolicy.groups must be a tuple of GroupSpec")
        if not self.groups:
            raise PolicyInvalid("The policy has no groups; SLIP-39 needs at least one group of custodians.")
        if len(self.groups) > MAX_GROUPS:
            raise PolicyInvalid(
                f"{len(self.groups)} groups is not possible: SLIP-39 allows at most {MAX_GROUPS} groups."
            )
        if not 1 <= self.group_threshold <= len(self.groups):
            raise PolicyInvalid(
                f"A group threshold of {self.group_threshold} is not possible with {len(self.groups)} "
                f"group(s): it must be between 1 and the number of groups."
            )
        for number, group in enumerate(self.groups, start=1):
            _check_group(number, group)
        if not 0 <= self.iteration_exponent <= MAX_ITERATION_EXPONENT:
            raise PolicyInvalid(
                f"An iteration exponent of {self.iteration_exponent} is not possible: SLIP-39 allows "
                f"0 to {MAX_ITERATION_EXPONENT}."
            )


def check_passphrase(policy: QuorumPolicy, passphrase: Secret | None) -> bytes:
    """The passphrase bytes to give SLIP-39 (``b""`` for none); ``PolicyInvalid`` if it does not fit."""
    if passphrase is None or (not passphrase.wiped and len(passphrase) == 0):
        if policy.passphrase:
            raise PolicyInvalid(
                "The policy asks for a passphrase but none was given.",
                next_step="Enter the passphrase, or choose a policy without one.",
            )
        return b""
    if not policy.passphrase:
        raise PolicyInvalid(
            "A passphrase was given but the policy has none.",
            next_step="Choose a policy with a passphrase, or leave the passphrase empty.",
        )
    value = passphrase.reveal()
    bad = [i for i, byte in enumerate(value) if not 32 <= byte <= 126]
    if bad:
        # Name positions only: the passphrase itself must never reach a message.
        raise PolicyInvalid(
            f"The passphrase has {len(bad)} character(s) that are not printable ASCII "
            f"(first at position {bad[0] + 1}); SLIP-39 allows only printable ASCII.",
            next_step="Choose a passphrase of letters, digits, spaces and punctuation only.",
        )
    return value


def _check_int(what: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int")


def _check_group(number: int, group: GroupSpec) -> None:
    _check_int("A group threshold", group.threshold)
    _check_int("A group size", group.count)
    where = f"Group {number} ({group.describe()})"
    if not 1 <= group.count <= MAX_SHARES_PER_GROUP:
        raise PolicyInvalid(
            f"{where} is not possible: SLIP-39 allows 1 to {MAX_SHARES_PER_GROUP} shares per group."
        )
    if not 1 <= group.threshold <= group.count:
        raise PolicyInvalid(
            f"{where} is not possible: the threshold must be between 1 and the number of shares."
        )
    if group.threshold == 1 and group.count > 1:
        raise PolicyInvalid(
            f"{where} is not allowed by SLIP-39: with a threshold of 1 every share is the whole "
            f"secret. Use 1-of-1, or a threshold of 2 or more."
        )
