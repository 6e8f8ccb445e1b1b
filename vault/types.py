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
    """How a token is chosen: by label, serial or an RFC 7512 PKCS#11 URI. ``slot`` only
    tells apart tokens that label and serial cannot (never selects on its own)."""

    label: str | None = None
    serial: str | None = None
    slot: int | None = None

    def describe(self) -> str:
        parts = [f"label={self.label!r}" if self.label else "", f"serial={self.serial!r}" if self.serial else "",
                 f"slot={self.slot}" if self.slot is not None else ""]
        return " ".join(p for p in parts if p) or "any token"


class KeyPurpose(enum.Enum):
    """What a key may do; the HSM template and the engine both enforce it (one purpose a key)."""

    SIGN = "sign"  # key pairs: sign (private) / verify (public)
    ENCRYPT = "encrypt"  # AES: encrypt and decrypt data directly (AES-GCM in the HSM)
    WRAP = "wrap"  # AES: wrap and unwrap data keys (envelope encryption), never data itself
    TRANSPORT = "transport"  # RSA: receive keys from another vault (wrap with the public half)

    @classmethod
    def default_for(cls, algorithm: KeyAlgorithm) -> "KeyPurpose":
        return cls.ENCRYPT if algorithm.is_secret_key else cls.SIGN

    def allows(self, algorithm: KeyAlgorithm) -> bool:
        if self in (KeyPurpose.ENCRYPT, KeyPurpose.WRAP):
            return algorithm.is_secret_key
        if self is KeyPurpose.TRANSPORT:
            return algorithm in (KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096)
        return algorithm.is_key_pair


class RevocationReason(enum.Enum):
    """KMIP 2.1 revocation reason codes (section 11.25); the number is KMIP's."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key-compromise"
    CA_COMPROMISE = "ca-compromise"
    AFFILIATION_CHANGED = "affiliation-changed"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessation-of-operation"

    @property
    def kmip_code(self) -> int:
        return _KMIP_CODES[self]

    @property
    def compromise(self) -> bool:
        """KMIP: a compromise reason moves the key to Compromised, any other to Deactivated."""
        return self in (RevocationReason.KEY_COMPROMISE, RevocationReason.CA_COMPROMISE)


_KMIP_CODES = {
    RevocationReason.UNSPECIFIED: 1,
    RevocationReason.KEY_COMPROMISE: 2,
    RevocationReason.CA_COMPROMISE: 3,
    RevocationReason.AFFILIATION_CHANGED: 4,
    RevocationReason.SUPERSEDED: 5,
    RevocationReason.CESSATION_OF_OPERATION: 6,
}


class SignatureScheme(enum.Enum):
    """How a certificate or CRL is signed (the AlgorithmIdentifier in it and the HSM mechanism).

    ECDSA and RSA hash in software; the HSM signs the digest (CKM_ECDSA, CKM_RSA_PKCS over a
    DigestInfo, CKM_RSA_PKCS_PSS). Ed25519 signs the data itself (pure EdDSA).
    """

    ECDSA_SHA256 = "ecdsa-sha256"
    ECDSA_SHA384 = "ecdsa-sha384"
    ECDSA_SHA512 = "ecdsa-sha512"
    RSA_PKCS1_SHA256 = "rsa-pkcs1-sha256"
    RSA_PKCS1_SHA384 = "rsa-pkcs1-sha384"
    RSA_PKCS1_SHA512 = "rsa-pkcs1-sha512"
    RSA_PSS_SHA256 = "rsa-pss-sha256"
    RSA_PSS_SHA384 = "rsa-pss-sha384"
    RSA_PSS_SHA512 = "rsa-pss-sha512"
    ED25519 = "ed25519"

    @property
    def family(self) -> str:
        """``ecdsa`` | ``rsa-pkcs1`` | ``rsa-pss`` | ``ed25519``."""
        return self.value.rsplit("-", 1)[0] if self is not SignatureScheme.ED25519 else "ed25519"

    @property
    def hash_name(self) -> str | None:
        """``sha256`` / ``sha384`` / ``sha512``; None for Ed25519."""
        return None if self is SignatureScheme.ED25519 else self.value.rsplit("-", 1)[1]

    def fits(self, algorithm: KeyAlgorithm) -> bool:
        """Whether a key of ``algorithm`` can sign with this scheme."""
        if self.family == "ecdsa":
            return algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384)
        if self.family in ("rsa-pkcs1", "rsa-pss"):
            return algorithm in (KeyAlgorithm.RSA_3072, KeyAlgorithm.RSA_4096)
        return algorithm is KeyAlgorithm.ED25519
