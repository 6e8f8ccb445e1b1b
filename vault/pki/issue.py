"""Issuing a certificate: prepare (every check, the TBS, the lint) -> review -> sign in the HSM
-> check in software and lint again -> write once and record.

Every refusal happens in ``prepare_certificate`` (or ``issuer_from_record``), before the HSM is
asked for anything but random serial bits: an issuer that is expired, revoked, not a CA or not
ours; a validity that ends after the issuer's; a path length the issuer does not allow; a
serial used before; a profile whose TBS pkilint rejects. ``sign_prepared`` reserves the serial
(committed first, so a crash can never lead to its reuse), signs, checks the result and lints it
again; ``record_issued`` writes the PEM once (never over a file) and records the certificate
and the ledger event in one transaction, removing the file if that fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vault.errors import (
    CertificateCheckFailed,
    HsmCheckFailed,
    IssuerNotUsable,
    KeyNotActive,
    MechanismUnsupported,
    PathLengthViolation,
    SerialReused,
    ValidityBeyondIssuer,
)
from vault.hsm.software import spki_fingerprint
from vault.pki import assemble, build
from vault.pki.lint import LintReport, lint_certificate
from vault.pki.profile import Profile
from vault.pki.writeout import write_pem_once
from vault.store.certs import CertificateRecord, NewCertificate
from vault.types import KeyAlgorithm, KeyState, SignatureScheme

UTC = dt.timezone.utc
SerialSource = Callable[[int], bytes]  # n -> n random bytes (the HSM's C_GenerateRandom)


def spki_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def utc(value: str | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who signs: an HSM key of this vault, and the CA certificate that names it (None while a
    root's own self-signed certificate is being made)."""

    key_label: str
    key_algorithm: KeyAlgorithm
    name: x509.Name
    public_key: Any
    record: CertificateRecord | None = None
    certificate: x509.Certificate | None = None

    @property
    def self_signed(self) -> bool:
        return self.record is None


@dataclass(frozen=True, slots=True)
class Subject:
    """What is certified: a name the profile allowed and a public key, and where they came from."""

    name: x509.Name
    public_key: Any
    key_label: str | None = None  # an HSM key of this vault (root, OCSP signer)
    source: str = ""  # e.g. "CSR /media/int.csr sha256:..." / "HSM key root-2026"
    dropped: tuple[str, ...] = ()  # CSR subject attributes the profile did not let through
    requested_extensions: tuple[str, ...] = ()  # what a CSR asked for (ignored)


@dataclass(frozen=True, slots=True)
class Prepared:
    profile: Profile
    scheme: SignatureScheme
    issuer: Issuer
    subject: Subject
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    tbs: bytes
    placeholder_der: bytes
    lint: LintReport

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    @property
    def spki_sha256(self) -> str:
        return spki_fingerprint(spki_der(self.subject.public_key))


def describe_extension(ext: x509.Extension) -> str:
    name = ext.oid._name if ext.oid._name != "Unknown OID" else ext.oid.dotted_string
    return f"{name}{' (critical)' if ext.critical else ''}"


# --- issuers -------------------------------------------------------------------------------------------
def _active_signing_key(vault, label: str):
    from vault.errors import KeyNotFound, RecordNotFound

    try:
        key = vault.store.get_key_by_label(label)
    except RecordNotFound:
        raise KeyNotFound(f"No key labelled {label!r} in this vault.") from None
    if key.state is not KeyState.ACTIVE:
        raise KeyNotActive(f"Key {label!r} is {key.state.value}; only an active key signs certificates.")
    if not key.algorithm.can_sign:
        raise MechanismUnsupported(f"Key {label!r} is {key.algorithm.value}; only key pairs sign certificates.")
    return key


def self_issuer(vault, key_label: str, public_key_pem: str, name: x509.Name) -> Issuer:
    """The issuer of a new root: the key signs its own certificate (the name is the profile's subject)."""
    key = _active_signing_key(vault, key_label)
    public_key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    if spki_fingerprint(spki_der(public_key)) != key.fingerprint:
        raise HsmCheckFailed(f"The token's public key of {key_label!r} is not the one the vault recorded.")
    return Issuer(key_label, key.algorithm, name, public_key)


def same_subject_other_key(vault, name: x509.Name, spki_sha256: str) -> list[CertificateRecord]:
    """This vault's CA certificates (any state: revoked or expired ones are still in relying
    parties' stores) with subject ``name`` and a key other than ``spki_sha256``. A new root with
    such a name is ambiguous to path building, which finds an issuer by name first: refused
    unless the ceremony records a reason (a re-key; vault.ceremony.steps.pki)."""
    out = []
    for record in vault.store.list_certificates():
        if record.is_ca and record.spki_sha256 != spki_sha256 and \
                x509.load_der_x509_certificate(record.der).subject == name:
            out.append(record)
    return out


def issuer_from_record(vault, record: CertificateRecord, *, now: dt.datetime, for_crl: bool = False) -> Issuer:
    """A CA certificate of this vault that may sign now: ours (its key is an active HSM key of
    this vault), a CA with keyCertSign (cRLSign for a CRL), within its validity, not revoked."""
    what = f"certificate {record.serial_hex} ({record.subject})"
    if record.key_label is None:
        raise IssuerNotUsable(f"The key of {what} is not in this vault's HSM; it cannot sign here.")
    cert = x509.load_der_x509_certificate(record.der)
    if not record.is_ca:
        raise IssuerNotUsable(f"{what} is not a CA certificate.")
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    if for_crl and not usage.crl_sign:
        raise IssuerNotUsable(f"{what} does not allow CRL signing (no cRLSign key usage).")
    if not for_crl and not usage.key_cert_sign:
        raise IssuerNotUsable(f"{what} does not allow certificate signing (no keyCertSign key usage).")
    if vault.store.revocation_of(record.id) is not None:
        raise IssuerNotUsable(f"{what} is revoked; it signs nothing more.",
                              next_step="Use another CA certificate, or issue a new one in a root-ca ceremony.")
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > not_after:
        raise IssuerNotUsable(f"{what} expired on {iso(not_after)}; it signs nothing more.",
                              next_step="Issue a new CA certificate for the key first.")
    if now < not_before:
        raise IssuerNotUsable(f"{what} is not valid before {iso(not_before)}.")
    key = _active_signing_key(vault, record.key_label)
    if key.fingerprint != record.spki_sha256:
        raise HsmCheckFailed(f"The vault's key {record.key_label!r} is not the key of {what}.")
    return Issuer(record.key_label, key.algorithm, cert.subject, cert.public_key(), record, cert)


def usable_issuers(vault, *, now: dt.datetime, for_crl: bool = False) -> list[tuple[CertificateRecord, str | None]]:
    """Every CA certificate of ours with why it cannot sign now (None when it can)."""
    out = []
    for record in vault.store.list_certificates():
        if not record.is_ca or record.key_label is None:
            continue
        try:
            issuer_from_record(vault, record, now=now, for_crl=for_crl)
            out.append((record, None))
        except Exception as exc:  # VaultError: the reason it is refused
            out.append((record, getattr(exc, "message", str(exc))))
    return out


# --- preparing --------------------------------------------------------------------------------------------
def draw_serial(vault, bits: int, source: SerialSource) -> int:
    """A positive serial of ``bits`` random bits from ``source`` (the HSM RNG); SerialReused if
    the vault ever used it (checked again when it is reserved)."""
    for _ in range(4):
        raw = source((bits + 7) // 8)
        serial = int.from_bytes(raw, "big") & ((1 << bits) - 1)
        if serial:
            break
    else:
        raise HsmCheckFailed("The HSM's random generator returned zero four times.")
    if vault.store.serial_reserved(format(serial, "x")):
        raise SerialReused(f"Serial {serial:x} drawn from the HSM was already used by this vault; nothing was signed.")
    return serial


def _check_path_length(profile: Profile, issuer: Issuer) -> None:
    if issuer.self_signed or not profile.ca:
        return
    limit = issuer.record.path_length
    if limit is None:
        return
    who = f"the issuer {issuer.record.subject} has path length {limit}"
    if limit == 0:
        raise PathLengthViolation(f"A CA certificate cannot be issued here: {who}, so it may certify end "
                                  "entities only.")
    if profile.path_length is None or profile.path_length >= limit:
        shown = "none (unlimited)" if profile.path_length is None else profile.path_length
        raise PathLengthViolation(f"The profile {profile.name} sets path length {shown}, but {who}: "
                                  f"it must be at most {limit - 1}.")


def prepare_certificate(vault, profile: Profile, issuer: Issuer, subject: Subject, *, serial_source: SerialSource,
                        now: dt.datetime) -> Prepared:
    """Every check, the TBS and its lint. Raises before any HSM signature is made."""
    if profile.is_crl:
        raise ValueError("a CRL profile does not make certificates")
    scheme = profile.scheme_for(issuer.key_algorithm)
    not_before = now.astimezone(UTC).replace(microsecond=0)
    not_after = not_before + dt.timedelta(days=profile.validity_days) - dt.timedelta(seconds=1)
    if issuer.certificate is not None:
        issuer_end = issuer.certificate.not_valid_after_utc
        if not_after > issuer_end:
            raise ValidityBeyondIssuer(f"The profile {profile.name} gives validity to {iso(not_after)}, after the "
                                       f"issuer's own end {iso(issuer_end)}.")
    _check_path_length(profile, issuer)
    serial = draw_serial(vault, profile.serial_bits, serial_source)
    draft = build.certificate_draft(profile, scheme, subject=subject.name, subject_public_key=subject.public_key,
                                    issuer=issuer.name, issuer_public_key=issuer.public_key, serial=serial,
                                    not_before=not_before, not_after=not_after)
    report = lint_certificate(draft.placeholder_der, profile)
    report.require_no_errors(f"the {profile.kind} certificate for {subject.name.rfc4514_string()} (before signing)")
    return Prepared(profile, scheme, issuer, subject, serial, not_before, not_after, draft.tbs, draft.placeholder_der,
                    report)


# --- signing and recording ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Issued:
    prepared: Prepared
    der: bytes
    certificate: x509.Certificate
    lint_after: LintReport

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def sign_prepared(vault, signer, prepared: Prepared, *, ceremony_id: str | None) -> Issued:
    """Reserve the serial (committed), sign the TBS in the HSM, check the result and lint it again."""
    if signer.key.label != prepared.issuer.key_label:
        raise ValueError("the signer is not the issuer's key")
    vault.store.reserve_serial(prepared.serial_hex, bits=prepared.profile.serial_bits, ceremony_id=ceremony_id)
    signature = signer.sign(prepared.tbs, prepared.scheme)
    der = assemble.certificate_der(prepared.tbs, signature)
    cert = assemble.check_certificate(der, prepared.tbs, prepared.issuer.public_key, prepared.scheme)
    after = lint_certificate(der, prepared.profile)
    if after.errors:
        raise CertificateCheckFailed(f"pkilint found errors in the signed certificate: "
                                     f"{'; '.join(f.describe() for f in after.errors[:3])}.")
    return Issued(prepared, der, cert, after)


def record_issued(vault, issued: Issued, out: Path | None, *, ceremony_id: str | None, actor: str) -> CertificateRecord:
    """Write the PEM to ``out`` (a new file; None: store only) and record certificate + ledger event atomically."""
    p = issued.prepared
    findings = tuple(f.to_dict() for f in p.lint.warnings) + tuple(
        {**f.to_dict(), "after_signing": True} for f in issued.lint_after.warnings if f not in p.lint.warnings)
    bc = issued.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    new = NewCertificate(
        serial_hex=p.serial_hex, kind=p.profile.kind, subject=p.subject.name.rfc4514_string(),
        issuer=p.issuer.name.rfc4514_string(),
        issuer_certificate_id=None if p.issuer.record is None else p.issuer.record.id,
        key_label=p.subject.key_label, spki_sha256=p.spki_sha256, is_ca=bc.ca, path_length=bc.path_length,
        not_before=iso(p.not_before), not_after=iso(p.not_after), profile_name=p.profile.name,
        profile_sha256=p.profile.sha256, signature_scheme=p.scheme.value, lint_findings=findings,
        der=issued.der, sha256=issued.sha256, path=None if out is None else str(Path(out).resolve()),
        ceremony_id=ceremony_id)
    written = write_pem_once(out, issued.pem) if out is not None else None
    try:
        with vault.store.atomic():
            record = vault.store.add_certificate(new)
            vault.ledger.append("certificate.issued", {
                "kind": new.kind, "serial": new.serial_hex, "subject": new.subject, "issuer": new.issuer,
                "issuer_serial": None if p.issuer.record is None else p.issuer.record.serial_hex,
                "issuer_key": p.issuer.key_label, "subject_key": new.key_label, "spki_sha256": new.spki_sha256,
                "not_before": new.not_before, "not_after": new.not_after, "profile": new.profile_name,
                "profile_sha256": new.profile_sha256, "signature": new.signature_scheme,
                "sha256": new.sha256, "path": new.path, "source": p.subject.source,
                "lint_level": p.lint.level, "lint_warnings": [f["code"] for f in findings],
            }, actor=actor, ceremony_id=ceremony_id)
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    return record
