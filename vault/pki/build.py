"""Building a certificate's or CRL's TBS from a profile with ``cryptography``'s x509 builders.

``cryptography`` signs only with keys it holds, so the builder signs once with a throwaway
software key of the same signature family (a "placeholder"): that fixes every byte of the TBS,
including the AlgorithmIdentifier, and gives a complete document for the linter to read before
the HSM signs. The placeholder's signature is thrown away; vault.pki.assemble puts the HSM's
signature over the very same TBS bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vault.pki.profile import Profile
from vault.types import SignatureScheme

NAME_OIDS = {
    "C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME, "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME,
    "DC": NameOID.DOMAIN_COMPONENT, "serialNumber": NameOID.SERIAL_NUMBER,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}
ATTRIBUTE_OF_OID = {oid: name for name, oid in NAME_OIDS.items()}
EKU_OIDS = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH, "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code_signing": ExtendedKeyUsageOID.CODE_SIGNING, "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "time_stamping": ExtendedKeyUsageOID.TIME_STAMPING, "ocsp_signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
ANY_POLICY = "2.5.29.32.0"
_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
CRL_REASONS = {
    "unspecified": x509.ReasonFlags.unspecified, "key-compromise": x509.ReasonFlags.key_compromise,
    "ca-compromise": x509.ReasonFlags.ca_compromise, "affiliation-changed": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded, "cessation-of-operation": x509.ReasonFlags.cessation_of_operation,
    "certificate-hold": x509.ReasonFlags.certificate_hold, "privilege-withdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aa-compromise": x509.ReasonFlags.aa_compromise,
}


@functools.lru_cache(maxsize=None)
def placeholder_key(family: str) -> Any:
    """A process-wide throwaway software key whose only use is to make the builder emit a TBS."""
    if family == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if family in ("rsa-pkcs1", "rsa-pss"):
        return rsa.generate_private_key(65537, 2048)
    return ed25519.Ed25519PrivateKey.generate()


def sign_arguments(scheme: SignatureScheme) -> dict[str, Any]:
    """``algorithm`` (and ``rsa_padding``) for a builder's ``sign`` so the TBS names ``scheme``."""
    if scheme is SignatureScheme.ED25519:
        return {"algorithm": None}
    h = _HASHES[scheme.hash_name]()
    if scheme.family == "rsa-pss":
        return {"algorithm": h, "rsa_padding": padding.PSS(padding.MGF1(h), h.digest_size)}
    if scheme.family == "rsa-pkcs1":
        return {"algorithm": h, "rsa_padding": padding.PKCS1v15()}
    return {"algorithm": h}


@dataclass(frozen=True, slots=True)
class Draft:
    """A TBS and the placeholder-signed document around it (for the linter)."""

    tbs: bytes
    placeholder_der: bytes


def subject_name(profile: Profile, csr_subject: x509.Name | None = None) -> tuple[x509.Name, tuple[str, ...]]:
    """The subject the profile allows: its fixed attributes, then the CSR's attributes it lets
    through (in the CSR's order). Returns the name and the CSR attributes that were dropped."""
    attrs = [x509.NameAttribute(NAME_OIDS[k], v) for k, v in profile.subject.fixed]
    fixed = {k for k, _ in profile.subject.fixed}
    dropped: list[str] = []
    if csr_subject is not None:
        for attr in csr_subject:
            name = ATTRIBUTE_OF_OID.get(attr.oid, attr.oid.dotted_string)
            if name in profile.subject.from_csr and name not in fixed:
                attrs.append(x509.NameAttribute(attr.oid, attr.value))
            else:
                dropped.append(f"{name}={attr.value}")
    return x509.Name(attrs), tuple(dropped)


def _key_usage(names: tuple[str, ...]) -> x509.KeyUsage:
    flags = {n: (n in names) for n in ("digital_signature", "content_commitment", "key_encipherment",
                                         "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign")}
    return x509.KeyUsage(**flags, encipher_only=False, decipher_only=False)


def extensions(profile: Profile, subject_public_key: Any, issuer_public_key: Any) -> list[tuple[x509.ExtensionType, bool]]:
    """Every extension the profile asks for, with its criticality, in a fixed order."""
    out: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=profile.ca, path_length=profile.path_length), True),
        (_key_usage(profile.key_usage), True),
    ]
    if profile.extended_key_usage:
        out.append((x509.ExtendedKeyUsage([EKU_OIDS[e] for e in profile.extended_key_usage]), False))
    out.append((x509.SubjectKeyIdentifier.from_public_key(subject_public_key), False))
    out.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), False))
    if profile.crl_distribution_points:
        out.append((x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in profile.crl_distribution_points]), False))
    aia = [x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(u))
           for u in profile.ocsp_urls]
    aia += [x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(u))
            for u in profile.ca_issuers_urls]
    if aia:
        out.append((x509.AuthorityInformationAccess(aia), False))
    if profile.policies:
        out.append((x509.CertificatePolicies([
            x509.PolicyInformation(x509.ObjectIdentifier(ANY_POLICY if p == "any" else p), None)
            for p in profile.policies]), False))
    nc = profile.name_constraints
    if nc is not None:
        permitted = [x509.DNSName(d) for d in nc.permitted_dns] + [x509.IPAddress(ipaddress.ip_network(i))
                                                                   for i in nc.permitted_ip]
        excluded = [x509.DNSName(d) for d in nc.excluded_dns] + [x509.IPAddress(ipaddress.ip_network(i))
                                                                 for i in nc.excluded_ip]
        out.append((x509.NameConstraints(permitted or None, excluded or None), True))
    if profile.ocsp_no_check:
        out.append((x509.OCSPNoCheck(), False))
    return out


def certificate_draft(profile: Profile, scheme: SignatureScheme, *, subject: x509.Name, subject_public_key: Any, issuer: x509.Name,
                      issuer_public_key: Any, serial: int, not_before: dt.datetime,
                      not_after: dt.datetime) -> Draft:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(subject_public_key)
               .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after))
    for ext, critical in extensions(profile, subject_public_key, issuer_public_key):
        builder = builder.add_extension(ext, critical=critical)
    cert = builder.sign(placeholder_key(scheme.family), **sign_arguments(scheme))
    return Draft(cert.tbs_certificate_bytes, cert.public_bytes(Encoding.DER))


def crl_draft(profile: Profile, scheme: SignatureScheme, *, issuer: x509.Name, issuer_public_key: Any, crl_number: int,
              this_update: dt.datetime, next_update: dt.datetime,
              revoked: list[tuple[int, dt.datetime, str]]) -> Draft:
    """``revoked``: (serial, revocation date, reason name) of every certificate the CRL lists."""
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer).last_update(this_update)
               .next_update(next_update)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
               .add_extension(x509.CRLNumber(crl_number), critical=False))
    for serial, when, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason != "unspecified":  # RFC 5280 5.3.1: the reason code unspecified SHOULD be absent
            entry = entry.add_extension(x509.CRLReason(CRL_REASONS[reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(placeholder_key(scheme.family), **sign_arguments(scheme))
    return Draft(crl.tbs_certlist_bytes, crl.public_bytes(Encoding.DER))
