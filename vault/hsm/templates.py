"""Explicit PKCS#11 attribute templates, one comment per attribute.

Nothing is left to a library or token default: python-pkcs11 and the practice token disagree on
several (``create_object`` and ``C_UnwrapKey`` default CKA_SENSITIVE to False, python-pkcs11
puts ENCRYPT/VERIFY/WRAP into private-key unwrap templates, which the practice token rejects). The
templates are merged over python-pkcs11's own (every key in ours wins), and
``pkcs11.DEFAULT`` removes an attribute from the template altogether.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pkcs11
from pkcs11 import Attribute as A
from pkcs11 import KeyType, Mechanism, ObjectClass

from vault.hsm import purposes
from vault.hsm.software import EC_PARAMS_DER
from vault.types import KeyAlgorithm, KeyPurpose

Template = dict[A, Any]

RSA_PUBLIC_EXPONENT = 65537


@dataclass(frozen=True, slots=True)
class AlgorithmSpec:
    key_type: KeyType
    generate_mechanism: Mechanism
    bits: int | None = None  # RSA modulus bits / AES key bits
    ec_params: bytes | None = None  # DER named-curve OID (CKA_EC_PARAMS)


SPECS: dict[KeyAlgorithm, AlgorithmSpec] = {
    KeyAlgorithm.AES_256: AlgorithmSpec(KeyType.AES, Mechanism.AES_KEY_GEN, bits=256),
    KeyAlgorithm.EC_P256: AlgorithmSpec(
        KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, ec_params=EC_PARAMS_DER[KeyAlgorithm.EC_P256]
    ),
    KeyAlgorithm.EC_P384: AlgorithmSpec(
        KeyType.EC, Mechanism.EC_KEY_PAIR_GEN, ec_params=EC_PARAMS_DER[KeyAlgorithm.EC_P384]
    ),
    KeyAlgorithm.RSA_3072: AlgorithmSpec(KeyType.RSA, Mechanism.RSA_PKCS_KEY_PAIR_GEN, bits=3072),
    KeyAlgorithm.RSA_4096: AlgorithmSpec(KeyType.RSA, Mechanism.RSA_PKCS_KEY_PAIR_GEN, bits=4096),
    KeyAlgorithm.ED25519: AlgorithmSpec(
        KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN, ec_params=EC_PARAMS_DER[KeyAlgorithm.ED25519]
    ),
}


def secret_key(label: str, key_id: bytes, *, store: bool, backup: bool, purpose: KeyPurpose | None = None) -> Template:
    """AES-256 master key, for C_GenerateKey; capabilities by purpose (vault.hsm.purposes)."""
    return {
        A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
        A.KEY_TYPE: KeyType.AES,  # AES
        A.VALUE_LEN: 32,  # 256 bits
        A.LABEL: label,  # the name the vault knows it by (checked unique before)
        A.ID: key_id,  # 16 random bytes from the HSM RNG
        A.TOKEN: store,  # token object: survives the session (False only for probes)
        A.PRIVATE: True,  # invisible without a user login
        A.SENSITIVE: True,  # CKA_VALUE is never revealed in clear
        A.EXTRACTABLE: backup,  # may leave the HSM only wrapped, and only if it is backed up
        A.MODIFIABLE: False,  # attributes are fixed (the practice token still allows EXTRACTABLE True->False)
        A.ENCRYPT: True,  # a data-encryption master key; also gives the KCV after a restore
        A.DECRYPT: True,  # ... and its inverse
        A.SIGN: False,  # no MACs with a master key
        A.VERIFY: False,  # no MACs with a master key
        A.WRAP: False,  # not a KEK: it wraps nothing
        A.UNWRAP: False,  # not a KEK: it imports nothing
        A.DERIVE: False,  # no key derivation from it
        **purposes.flags(purposes.SECRET, purpose, KeyPurpose.ENCRYPT),  # ENCRYPT/DECRYPT or WRAP/UNWRAP
    }


def public_key(algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool,
               purpose: KeyPurpose | None = None) -> Template:
    """Public half of a key pair, for C_GenerateKeyPair."""
    spec = SPECS[algorithm]
    template: Template = {
        A.CLASS: ObjectClass.PUBLIC_KEY,  # the public half
        A.KEY_TYPE: spec.key_type,  # RSA, EC or EC_EDWARDS
        A.LABEL: label,  # same label as the private half
        A.ID: key_id,  # same CKA_ID as the private half: pairs are found by (label, id)
        A.TOKEN: store,  # token object (False only for probes)
        A.PRIVATE: False,  # a public key may be read without login (export, fingerprint)
        A.MODIFIABLE: False,  # fixed once made
        A.VERIFY: True,  # verification is its job
        A.ENCRYPT: False,  # master keys only sign
        A.WRAP: False,  # never a KEK
        A.DERIVE: False,  # no key agreement
        **purposes.flags(purposes.PUBLIC, purpose, KeyPurpose.SIGN),  # VERIFY, or WRAP for a transport key
    }
    if spec.key_type is KeyType.RSA:
        template[A.MODULUS_BITS] = spec.bits  # 3072 or 4096, checked after generation
        template[A.PUBLIC_EXPONENT] = RSA_PUBLIC_EXPONENT.to_bytes(3, "big")  # 65537, checked after
    else:
        template[A.EC_PARAMS] = spec.ec_params  # named-curve OID, checked after generation
    return template


def private_key(algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, backup: bool,
                purpose: KeyPurpose | None = None) -> Template:
    """Private half of a key pair, for C_GenerateKeyPair."""
    return {
        A.CLASS: ObjectClass.PRIVATE_KEY,  # the private half
        A.KEY_TYPE: SPECS[algorithm].key_type,  # RSA, EC or EC_EDWARDS
        A.LABEL: label,  # same label as the public half
        A.ID: key_id,  # same CKA_ID as the public half
        A.TOKEN: store,  # token object (False only for probes)
        A.PRIVATE: True,  # invisible without a user login
        A.SENSITIVE: True,  # private value never revealed in clear
        A.EXTRACTABLE: backup,  # may leave the HSM only wrapped, and only if it is backed up
        A.MODIFIABLE: False,  # fixed once made
        A.SIGN: True,  # signing is its job
        A.DECRYPT: False,  # master keys only sign
        A.UNWRAP: False,  # never a KEK
        A.DERIVE: False,  # no key agreement
        **purposes.flags(purposes.PRIVATE, purpose, KeyPurpose.SIGN),  # SIGN, or UNWRAP for a transport key
    }


#: Capability attributes a fallback may leave to the token when they only forbid (value False).
_PROHIBITIONS = (A.ENCRYPT, A.DECRYPT, A.WRAP, A.UNWRAP, A.SIGN, A.VERIFY, A.DERIVE)

#: The order generation falls back in when a token rejects the attribute combination of a
#: generation template (CKR_TEMPLATE_INCONSISTENT, CKR_ATTRIBUTE_TYPE_INVALID,
#: CKR_ATTRIBUTE_VALUE_INVALID, or the CKR_GENERAL_ERROR tpm2-pkcs11 answers a public template
#: with VERIFY=True, ENCRYPT=False with):
#:
#: 1. ``explicit``: every attribute stated, as above.
#: 2. ``public-defaults``: the public half states only what it must allow (VERIFY, or WRAP
#:    for a transport key) and its key parameters; its prohibitions and MODIFIABLE are left to
#:    the token.
#: 3. ``capability-defaults``: no half states a prohibition or MODIFIABLE; what a key must be
#:    (TOKEN, PRIVATE, SENSITIVE, EXTRACTABLE, its one allowed use, key parameters) is always
#:    stated.
#:
#: A fallback never weakens a key silently: the post-generation checks (vault.hsm.generation
#: and vault.hsm.purposes) read every attribute back, so a token that defaults a prohibition
#: to True makes a key that is refused and destroyed at once.
TEMPLATE_FALLBACKS = ("explicit", "public-defaults", "capability-defaults")


def fallback(variant: str, template: Template, *, public: bool) -> Template:
    """``template`` as generation variant ``variant`` (see TEMPLATE_FALLBACKS)."""
    if variant == "explicit" or (variant == "public-defaults" and not public):
        return template
    relaxed = dict(template)
    for attribute in (*_PROHIBITIONS, A.MODIFIABLE):
        if attribute in relaxed and relaxed[attribute] is False:
            relaxed[attribute] = pkcs11.DEFAULT  # removed from the template: the token decides
    return relaxed


def wrapping_key(kek: bytes) -> Template:
    """The backup KEK, imported as a session object that can only wrap and unwrap."""
    return {
        A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
        A.KEY_TYPE: KeyType.AES,  # AES key wrap (RFC 5649)
        A.VALUE: kek,  # derived from the quorum secret by the caller
        A.TOKEN: False,  # session object: gone when the session closes, never on disk
        A.PRIVATE: True,  # invisible to other (unauthenticated) sessions
        A.SENSITIVE: True,  # create_object defaults this to False: say it
        A.EXTRACTABLE: False,  # the KEK itself never leaves
        A.WRAP: True,  # wraps keys for backup
        A.UNWRAP: True,  # unwraps keys on restore
        A.ENCRYPT: False,  # no general encryption with a KEK
        A.DECRYPT: False,  # ... nor decryption
        A.SIGN: False,  # no MACs
        A.VERIFY: False,  # no MACs
        A.DERIVE: False,  # no derivation
    }


def unwrapped_secret_key(label: str, key_id: bytes, *, store: bool, extractable: bool,
                         purpose: KeyPurpose | None = None) -> Template:
    """Template for C_UnwrapKey of an AES master key (the restored twin of :func:`secret_key`)."""
    return {
        A.CLASS: ObjectClass.SECRET_KEY,  # a symmetric key
        A.KEY_TYPE: KeyType.AES,  # AES (VALUE_LEN is read-only on unwrap: not given)
        A.LABEL: label,  # the original label
        A.ID: key_id,  # the original CKA_ID
        A.TOKEN: store,  # token object, or a session object for drills
        A.PRIVATE: True,  # invisible without a user login
        A.SENSITIVE: True,  # the practice token defaults SENSITIVE to False after unwrap: say it
        A.EXTRACTABLE: extractable,  # as the original: a backed-up key stays re-wrappable
        A.MODIFIABLE: False,  # fixed once made
        A.ENCRYPT: True,  # as the original; also gives the KCV (CHECK_VALUE is empty after unwrap)
        A.DECRYPT: True,  # as the original
        A.SIGN: False,  # as the original
        A.VERIFY: False,  # as the original
        A.WRAP: False,  # as the original
        A.UNWRAP: False,  # as the original
        A.DERIVE: False,  # as the original
        **purposes.flags(purposes.SECRET, purpose, KeyPurpose.ENCRYPT),  # the original's purpose
    }


def unwrapped_private_key(
    algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, extractable: bool
) -> Template:
    """Template for C_UnwrapKey of a private key (the restored twin of :func:`private_key`)."""
    return {
        A.CLASS: ObjectClass.PRIVATE_KEY,  # the private half
        A.KEY_TYPE: SPECS[algorithm].key_type,  # RSA or EC
        A.LABEL: label,  # the original label
        A.ID: key_id,  # the original CKA_ID
        A.TOKEN: store,  # token object, or a session object for drills
        A.PRIVATE: True,  # invisible without a user login
        A.SENSITIVE: True,  # the practice token defaults SENSITIVE to False after unwrap: say it
        A.EXTRACTABLE: extractable,  # as the original
        A.MODIFIABLE: False,  # fixed once made
        A.SIGN: True,  # as the original
        A.DECRYPT: False,  # as the original
        A.UNWRAP: False,  # as the original
        A.DERIVE: False,  # as the original
        A.ENCRYPT: pkcs11.DEFAULT,  # public-key attribute: the practice token rejects it here (AttributeTypeInvalid)
        A.VERIFY: pkcs11.DEFAULT,  # public-key attribute: the practice token rejects it here
        A.WRAP: pkcs11.DEFAULT,  # public-key attribute: the practice token rejects it here
    }


def restored_public_key(
    algorithm: KeyAlgorithm, label: str, key_id: bytes, *, store: bool, key_attributes: Template
) -> Template:
    """Template for C_CreateObject of a public half re-created from its SPKI DER on restore.

    ``key_attributes`` carries the key itself: MODULUS + PUBLIC_EXPONENT (RSA) or
    EC_PARAMS + EC_POINT (EC, Ed25519).
    """
    return {
        A.CLASS: ObjectClass.PUBLIC_KEY,  # the public half
        A.KEY_TYPE: SPECS[algorithm].key_type,  # RSA, EC or EC_EDWARDS
        A.LABEL: label,  # the original label
        A.ID: key_id,  # the original CKA_ID (pairs are found by (label, id))
        A.TOKEN: store,  # token object, or a session object for drills
        A.PRIVATE: False,  # readable without login, as generated
        A.MODIFIABLE: False,  # fixed once made
        A.VERIFY: True,  # as generated
        A.ENCRYPT: False,  # as generated
        A.WRAP: False,  # as generated
        A.DERIVE: False,  # as generated
        **key_attributes,  # the public key value from the backup
    }
