"""Putting the HSM's signature around a TBS (asn1crypto encodes the outer SEQUENCE), and the
software check of the result before anything is written.

The check is independent of the signer: it parses the finished DER with ``cryptography``, and
requires the TBS inside to be byte-for-byte the one that was linted and reviewed, the
signature algorithm to be the TBS's own, and the signature to verify under the issuer's public
key. A failure raises CertificateCheckFailed and nothing is written.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from vault.errors import CertificateCheckFailed
from vault.hsm.x509sign import software_verify
from vault.types import SignatureScheme


def certificate_der(tbs: bytes, signature: bytes) -> bytes:
    parsed = asn1_x509.TbsCertificate.load(tbs)
    return asn1_x509.Certificate({"tbs_certificate": parsed, "signature_algorithm": parsed["signature"],
                                  "signature_value": signature}).dump()


def crl_der(tbs: bytes, signature: bytes) -> bytes:
    parsed = asn1_crl.TbsCertList.load(tbs)
    return asn1_crl.CertificateList({"tbs_cert_list": parsed, "signature_algorithm": parsed["signature"],
                                     "signature": signature}).dump()


def check_certificate(der: bytes, tbs: bytes, issuer_public_key: Any, scheme: SignatureScheme) -> x509.Certificate:
    """The parsed certificate, once it is shown to be ``tbs`` signed by the issuer's key."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateCheckFailed(f"The signed certificate does not parse: {exc}.") from None
    if cert.tbs_certificate_bytes != tbs:
        raise CertificateCheckFailed("The signed certificate's TBS differs from the one linted and reviewed.")
    _check_signature(issuer_public_key, scheme, cert.signature, tbs, "certificate")
    return cert


def check_crl(der: bytes, tbs: bytes, issuer_public_key: Any, scheme: SignatureScheme) -> x509.CertificateRevocationList:
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError as exc:
        raise CertificateCheckFailed(f"The signed CRL does not parse: {exc}.") from None
    if crl.tbs_certlist_bytes != tbs:
        raise CertificateCheckFailed("The signed CRL's TBS differs from the one linted and reviewed.")
    _check_signature(issuer_public_key, scheme, crl.signature, tbs, "CRL")
    if not crl.is_signature_valid(issuer_public_key):
        raise CertificateCheckFailed("cryptography does not accept the CRL's signature under the issuer's key.")
    return crl


def _check_signature(public_key: Any, scheme: SignatureScheme, signature: bytes, tbs: bytes, what: str) -> None:
    try:
        software_verify(public_key, scheme, tbs, signature)
    except (InvalidSignature, TypeError, ValueError):
        raise CertificateCheckFailed(f"The {what}'s signature does not verify under the issuer's public key.") from None
