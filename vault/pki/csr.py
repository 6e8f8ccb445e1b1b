"""Reading a certificate signing request (PKCS#10) and checking it before anything uses it.

Only the CSR's public key and (as far as the profile allows) its subject are ever copied into a
certificate; the extensions it requests are shown at review and ignored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from vault.errors import CsrInvalid
from vault.inputs import InputTooLarge, read_bounded
from vault.hsm.software import spki_fingerprint

MAX_CSR_BYTES = 64 * 1024
_CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass(frozen=True, slots=True)
class CsrInfo:
    path: str
    sha256: str  # of the file as read
    subject: x509.Name
    public_key: Any
    spki_der: bytes
    spki_sha256: str  # "sha256:..." as vault.hsm fingerprints keys
    key_description: str
    requested_extensions: tuple[str, ...]


def describe_public_key(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(key).__name__


def check_public_key(key: Any, what: str) -> None:
    """Keys a CA signs for: RSA >= 2048 bits with a usual exponent, EC on a NIST curve, Ed25519."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048 or key.key_size % 8 or key.public_numbers().e != 65537:
            raise CsrInvalid(f"The {what} holds an RSA-{key.key_size} key (exponent {key.public_numbers().e}); "
                             "only RSA keys of 2048 bits or more with exponent 65537 are certified.")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise CsrInvalid(f"The {what} holds an EC key on {key.curve.name}; only P-256, P-384 and P-521 are certified.")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise CsrInvalid(f"The {what} holds a {describe_public_key(key)} key, which is not certified here.")


def read_csr(path: Path) -> CsrInfo:
    """The checked CSR at ``path`` (PEM or DER). CsrInvalid names what is wrong."""
    path = Path(path)
    try:
        data = read_bounded(path, MAX_CSR_BYTES)
    except InputTooLarge:
        raise CsrInvalid(f"{path} is larger than {MAX_CSR_BYTES} bytes; that is not a CSR.") from None
    except OSError as exc:
        raise CsrInvalid(f"Cannot read the CSR {path}: {exc.strerror or exc}.",
                         next_step="Check the path and that the medium is mounted.") from None
    try:
        csr = x509.load_pem_x509_csr(data) if data.lstrip().startswith(b"-----") else x509.load_der_x509_csr(data)
    except ValueError:
        raise CsrInvalid(f"{path} is not a PKCS#10 certificate request (PEM or DER).") from None
    try:
        valid = csr.is_signature_valid
        public_key = csr.public_key()
    except Exception:  # an unsupported key or signature algorithm
        raise CsrInvalid(f"The CSR {path} uses a key or signature algorithm that cannot be checked.") from None
    if not valid:
        raise CsrInvalid(f"The signature of the CSR {path} does not verify with the key it contains; "
                         "it was altered or not made by the holder of that key.")
    check_public_key(public_key, "CSR")
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    requested = []
    try:
        for ext in csr.extensions:
            requested.append(ext.oid._name if ext.oid._name != "Unknown OID" else ext.oid.dotted_string)
    except (ValueError, x509.DuplicateExtension):
        requested.append("(unreadable extension request)")
    return CsrInfo(str(path.resolve()), hashlib.sha256(data).hexdigest(), csr.subject, public_key, spki,
                   spki_fingerprint(spki), describe_public_key(public_key), tuple(requested))
