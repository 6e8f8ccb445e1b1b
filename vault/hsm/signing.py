"""Signatures made by a private key in the token, in the formats of docs/architecture.md.

EC P-256/P-384: ECDSA over SHA-256/SHA-384, DER-encoded; RSA: RSASSA-PSS with SHA-256,
MGF1-SHA-256, salt 32; Ed25519: pure EdDSA. :func:`sign` re-verifies every signature in
software (``cryptography``) before anyone sees it. Callers hold
:data:`vault.hsm.module.HSM_LOCK`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Mechanism

from vault.errors import HsmCheckFailed, KeyNotFound, MechanismUnsupported, SignatureInvalid
from vault.hsm import objects, software
from vault.hsm.model import KeyObject, TokenInfo
from vault.types import KeyAlgorithm

PSS_PARAM = (Mechanism.SHA256, MGF.SHA256, software.PSS_SALT_LENGTH)


def raw_sign(algorithm: KeyAlgorithm, private: Any, data: bytes) -> bytes:
    """The token's signature of ``data`` (not yet verified)."""
    if not hasattr(private, "sign"):
        raise MechanismUnsupported("This private key is not allowed to sign (CKA_SIGN is false).")
    if algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384):
        # Only raw CKM_ECDSA is common to all tokens: hash here, sign the digest, DER-encode r||s.
        digest = hashlib.new(software.ecdsa_hash(algorithm).name, data).digest()
        raw = private.sign(digest, mechanism=Mechanism.ECDSA)
        half = len(raw) // 2
        return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
    if algorithm is KeyAlgorithm.ED25519:
        return bytes(private.sign(data, mechanism=Mechanism.EDDSA))
    return bytes(private.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS, mechanism_param=PSS_PARAM))


def sign(p11_session: Any, token: TokenInfo, key: KeyObject, data: bytes) -> bytes:
    """Sign ``data`` with ``key``; the signature is verified in software before it is returned."""
    if key.algorithm.is_secret_key:
        raise MechanismUnsupported(f"'{key.label}' is an AES key; only key pairs sign.")
    found = objects.find(p11_session, key, token)
    if found.private is None:
        raise KeyNotFound(f"The private half of '{key.label}' is not on the token.")
    pem = software.spki_to_pem(objects.public_spki(key, found))
    signature = raw_sign(key.algorithm, found.private[0], data)
    try:
        software.verify_signature(pem, key.algorithm, data, signature)
    except SignatureInvalid:
        raise HsmCheckFailed(f"The token's {key.algorithm.value} signature did not verify in software.") from None
    return signature
