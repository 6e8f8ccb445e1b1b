"""Signing certificate and CRL data (a DER TBS) with a key pair in the HSM.

The TBS is built and checked elsewhere (vault.pki); here it is only signed, and the signature
is checked in software against the key's public half before it is returned.

Mechanisms, chosen so that they are portable (every PKCS#11 token has the raw ones; the practice token
2.6 has no CKM_ECDSA_SHA*):

* ECDSA: the hash is done in software, the token signs the digest with CKM_ECDSA, the raw
  r||s is DER-encoded (the X.509 form, ``Ecdsa-Sig-Value``);
* RSA PKCS#1 v1.5: the hash is done in software and wrapped in a DER DigestInfo (asn1crypto
  encodes it), the token signs that with CKM_RSA_PKCS (it adds the EMSA-PKCS1-v1_5 padding);
* RSASSA-PSS: hash in software, CKM_RSA_PKCS_PSS with (hash, MGF1 with the same hash, salt =
  digest length), the parameters the AlgorithmIdentifier in the TBS says;
* Ed25519: pure EdDSA over the TBS itself (CKM_EDDSA).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from asn1crypto.algos import DigestInfo
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Mechanism

from vault.errors import HsmCheckFailed, KeyNotFound, MechanismUnsupported
from vault.hsm import objects
from vault.hsm.errors import translated
from vault.hsm.model import KeyObject
from vault.hsm.module import HSM_LOCK
from vault.types import SignatureScheme

if TYPE_CHECKING:
    from vault.hsm.session import HsmSession

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_PSS_MECHANISM = {"sha256": (Mechanism.SHA256, MGF.SHA256), "sha384": (Mechanism.SHA384, MGF.SHA384),
                  "sha512": (Mechanism.SHA512, MGF.SHA512)}

#: How many signatures X509Signer objects made in this process (tests read it to show that a
#: refused issuance reached no HSM signing call).
_SIGNATURES_MADE = 0


def signatures_made() -> int:
    return _SIGNATURES_MADE


def software_verify(public_key: Any, scheme: SignatureScheme, data: bytes, signature: bytes) -> None:
    """Check ``signature`` over ``data`` with a ``cryptography`` public key; InvalidSignature if bad."""
    hash_name = scheme.hash_name
    if scheme.family == "ecdsa":
        public_key.verify(signature, data, ec.ECDSA(_HASHES[hash_name]()))
    elif scheme.family == "rsa-pkcs1":
        public_key.verify(signature, data, padding.PKCS1v15(), _HASHES[hash_name]())
    elif scheme.family == "rsa-pss":
        h = _HASHES[hash_name]()
        public_key.verify(signature, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    else:
        public_key.verify(signature, data)


class X509Signer:
    """Signs many TBS blobs with one HSM key: the key's objects are looked up once.

    Made by :meth:`vault.hsm.session.HsmSession.x509_signer`; valid while that session is open.
    """

    def __init__(self, session: "HsmSession", key: KeyObject) -> None:
        if key.algorithm.is_secret_key:
            raise MechanismUnsupported(f"'{key.label}' is an AES key; only key pairs sign certificates.")
        with HSM_LOCK:
            session._check_current()
            with translated("x509_signer"):
                group = objects.find(session.p11, key, session.token)
                if group.private is None:
                    raise KeyNotFound(f"The private half of '{key.label}' is not on the token.")
                spki = objects.public_spki(key, group)
        self._session = session
        self._private = group.private[0]
        self.key = key
        self.public_key_der = spki
        self.public_key = serialization.load_der_public_key(spki)
        if not hasattr(self._private, "sign"):
            raise MechanismUnsupported(f"'{key.label}' is not allowed to sign (CKA_SIGN is false).")

    def __repr__(self) -> str:
        return f"X509Signer({self.key.label!r}, {self.key.algorithm.value})"

    def sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        """The signature of ``data`` (a DER TBS) in its X.509 encoding, checked in software."""
        global _SIGNATURES_MADE
        if not scheme.fits(self.key.algorithm):
            raise MechanismUnsupported(f"A {self.key.algorithm.value} key cannot sign with {scheme.value}.",
                                       next_step="Choose a signature algorithm in the profile that fits the key.")
        with HSM_LOCK:
            self._session._check_current()
            with translated("sign_certificate"):
                signature = self._token_sign(data, scheme)
                _SIGNATURES_MADE += 1
        try:
            software_verify(self.public_key, scheme, data, signature)
        except InvalidSignature:
            raise HsmCheckFailed(f"The token's {scheme.value} signature by '{self.key.label}' did not verify "
                                 "in software.") from None
        return signature

    def _token_sign(self, data: bytes, scheme: SignatureScheme) -> bytes:
        if scheme is SignatureScheme.ED25519:
            return bytes(self._private.sign(data, mechanism=Mechanism.EDDSA))
        digest = hashlib.new(scheme.hash_name, data).digest()
        if scheme.family == "ecdsa":
            raw = bytes(self._private.sign(digest, mechanism=Mechanism.ECDSA))
            half = len(raw) // 2
            return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        if scheme.family == "rsa-pkcs1":
            info = DigestInfo({"digest_algorithm": {"algorithm": scheme.hash_name}, "digest": digest}).dump()
            return bytes(self._private.sign(info, mechanism=Mechanism.RSA_PKCS))
        mech_hash, mgf = _PSS_MECHANISM[scheme.hash_name]
        return bytes(self._private.sign(digest, mechanism=Mechanism.RSA_PKCS_PSS,
                                        mechanism_param=(mech_hash, mgf, len(digest))))


__all__ = ["X509Signer", "signatures_made", "software_verify"]
