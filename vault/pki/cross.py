"""The other root of a cross-certificate: a self-signed CA certificate whose own signature
verifies, whose key is certifiable; its subject and key are copied exactly (nothing else)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vault.errors import CsrInvalid
from vault.inputs import read_bounded
from vault.hsm.software import spki_fingerprint
from vault.pki.csr import check_public_key

MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class OtherRoot:
    path: str
    sha256: str
    subject: x509.Name
    public_key: Any
    spki_sha256: str


def read_other_root(path: Path) -> OtherRoot:
    path = Path(path)
    try:
        data = read_bounded(path, MAX_BYTES)
    except OSError as exc:
        raise CsrInvalid(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data))
    except ValueError:
        raise CsrInvalid(f"{path} is not an X.509 certificate (PEM or DER).") from None
    if cert.subject != cert.issuer:
        raise CsrInvalid(f"{path} is not self-signed (its issuer is {cert.issuer.rfc4514_string()}); a cross-"
                         "certificate is made for another root.")
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:
        raise CsrInvalid(f"The self-signature of {path} does not verify; it was altered or is not a root.") from None
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise CsrInvalid(f"{path} is not a CA certificate.")
    public_key = cert.public_key()
    check_public_key(public_key, "other root")
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return OtherRoot(str(path.resolve()), hashlib.sha256(data).hexdigest(), cert.subject, public_key,
                     spki_fingerprint(spki))
