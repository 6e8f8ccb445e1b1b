"""Domain values shared by every layer: algorithms, key states, roles, modes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

CeremonyId = NewType("CeremonyId", str)
CustodianId = NewType("CustodianId", int)
KeyId = NewType("KeyId", int)


class Mode(enum.Enum):
    PRACTICE = "practice"
    PRODUCTION = "production"


class Role(enum.Enum):
    ADMINISTRATOR = "administrator"
    CUSTODIAN = "custodian"
    WITNESS = "witness"  # witness / auditor


class KeyAlgorithm(enum.Enum):
    AES_256 = "aes-256"
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"
    ED25519 = "ed25519"

    @property
    def is_secret_key(self) -> bool:
        return self is KeyAlgorithm.AES_256

    @property
    def is_key_pair(self) -> bool:
        return not self.is_secret_key

    @property
    def can_sign(self) -> bool:
        return self.is_key_pair


class KeyState(enum.Enum):
    """NIST SP 800-57 Part 1 Rev. 5, section 7 key states."""

    PRE_ACTIVATION = "pre-activation"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEACTIVATED = "deactivated"
    COMPROMISED = "compromised"
    DESTROYED = "destroyed"
    DESTROYED_COMPROMISED = "destroyed-compromised"


_S = KeyState
#: The only allowed transitions (SP 800-57 Pt.1 r5 fig. 4). Anything else is refused, in code
#: (``check_transition``) and in the schema (a trigger on the keys table built from this table).
ALLOWED_TRANSITIONS: frozenset[tuple[KeyState, KeyState]] = frozenset(
    {
        (_S.PRE_ACTIVATION, _S.ACTIVE),
        (_S.PRE_ACTIVATION, _S.COMPROMISED),
        (_S.PRE_ACTIVATION, _S.DESTROYED),
        (_S.ACTIVE, _S.SUSPENDED),
        (_S.ACTIVE, _S.DEACTIVATED),
        (_S.ACTIVE, _S.COMPROMISED),
        (_S.SUSPENDED, _S.ACTIVE),
        (_S.SUSPENDED, _S.DEACTIVATED),
        (_S.SUSPENDED, _S.COMPROMISED),
        (_S.DEACTIVATED, _S.COMPROMISED),
        (_S.DEACTIVATED, _S.DESTROYED),
        (_S.COMPROMISED, _S.DESTROYED_COMPROMISED),
        (_S.DESTROYED, _S.DESTROYED_COMPROMISED),
    }
)


def transition_allowed(old: KeyState, new: KeyState) -> bool:
    return (old, new) in ALLOWED_TRANSITIONS


@dataclass(frozen=True, slots=True)
class TokenSelector:
    """How a token is chosen: by label, serial or an RFC 7512 PKCS#11 URI (never by slot id)."""

    label: str | None = None
    serial: str | None = None

    def describe(self) -> str:
        parts = [f"label={self.label!r}" if self.label else "", f"serial={self.serial!r}" if self.serial else ""]
        return " ".join(p for p in parts if p) or "any token"
