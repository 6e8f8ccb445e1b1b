"""Issuing a CRL: the issuer's earlier revocations plus the new ones, the next CRL number,
this/next update from the profile; linted, reviewed, signed in the HSM, checked, linted again,
then written once and recorded (revocations, CRL and ledger events in one transaction)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from vault.errors import AnswerInvalid, CertificateCheckFailed
from vault.pki import assemble, build
from vault.pki.issue import UTC, Issuer, iso, utc
from vault.pki.lint import LintReport, lint_crl
from vault.pki.profile import Profile
from vault.pki.writeout import write_pem_once
from vault.store.certs import CertificateRecord, CrlRecord
from vault.store.schema_pki import REVOCATION_REASONS
from vault.types import SignatureScheme


#: The reasons a revocation here may give: revocation is final, so certificateHold is not offered.
FINAL_REASONS = tuple(r for r in REVOCATION_REASONS if r != "certificate-hold")


@dataclass(frozen=True, slots=True)
class NewRevocation:
    certificate: CertificateRecord
    reason: str


def parse_revocation(text: str, vault, issuer: Issuer, already: list[NewRevocation]) -> NewRevocation:
    """``SERIAL REASON`` (hex serial, optional colons; a reason of REVOCATION_REASONS)."""
    parts = text.split()
    if len(parts) != 2:
        raise AnswerInvalid("Give the serial (hex) and the reason, separated by a space.",
                            next_step=f"Reasons: {', '.join(FINAL_REASONS)}.")
    serial, reason = parts[0].lower().replace(":", "").lstrip("0") or "0", parts[1].lower()
    if reason not in REVOCATION_REASONS:
        raise AnswerInvalid(f"{parts[1]!r} is not a revocation reason.", next_step=f"Use one of: {', '.join(FINAL_REASONS)}.")
    matches = [c for c in vault.store.list_certificates(issuer_certificate_id=issuer.record.id) if c.serial_hex == serial]
    if not matches:
        raise AnswerInvalid(f"{issuer.record.subject} issued no certificate with serial {serial} in this vault.",
                            next_step="Check the serial with `custodian certs list`.")
    cert = matches[0]
    if vault.store.revocation_of(cert.id) is not None or any(r.certificate.id == cert.id for r in already):
        raise AnswerInvalid(f"Certificate {serial} is already revoked.", next_step="Give another serial, or finish.")
    if reason == "certificate-hold":
        raise AnswerInvalid("This console does not put certificates on hold; revocation here is final.",
                            next_step="Choose a final reason.")
    return NewRevocation(cert, reason)


@dataclass(frozen=True, slots=True)
class PreparedCrl:
    profile: Profile
    scheme: SignatureScheme
    issuer: Issuer
    crl_number: int
    this_update: dt.datetime
    next_update: dt.datetime
    new: tuple[NewRevocation, ...]
    entries: tuple[tuple[int, dt.datetime, str], ...]  # every serial listed
    tbs: bytes
    placeholder_der: bytes
    lint: LintReport


def prepare_crl(vault, profile: Profile, issuer: Issuer, new: list[NewRevocation], *, now: dt.datetime) -> PreparedCrl:
    if not profile.is_crl:
        raise ValueError("a certificate profile does not make CRLs")
    scheme = profile.scheme_for(issuer.key_algorithm)
    this_update = now.astimezone(UTC).replace(microsecond=0)
    next_update = this_update + dt.timedelta(days=profile.next_update_days)
    entries = [(int(r.serial_hex, 16), utc(r.revoked_at), r.reason)
               for r in vault.store.revocations_by_issuer(issuer.record.id)]
    entries += [(int(r.certificate.serial_hex, 16), this_update, r.reason) for r in new]
    number = vault.store.next_crl_number(issuer.record.id)
    draft = build.crl_draft(profile, scheme, issuer=issuer.name, issuer_public_key=issuer.public_key, crl_number=number,
                            this_update=this_update, next_update=next_update, revoked=entries)
    report = lint_crl(draft.placeholder_der, profile)
    report.require_no_errors(f"CRL number {number} (before signing)")
    return PreparedCrl(profile, scheme, issuer, number, this_update, next_update, tuple(new), tuple(entries), draft.tbs,
                       draft.placeholder_der, report)


@dataclass(frozen=True, slots=True)
class IssuedCrl:
    prepared: PreparedCrl
    der: bytes
    crl: x509.CertificateRevocationList
    lint_after: LintReport

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def sign_crl(signer, prepared: PreparedCrl) -> IssuedCrl:
    if signer.key.label != prepared.issuer.key_label:
        raise ValueError("the signer is not the issuer's key")
    signature = signer.sign(prepared.tbs, prepared.scheme)
    der = assemble.crl_der(prepared.tbs, signature)
    crl = assemble.check_crl(der, prepared.tbs, prepared.issuer.public_key, prepared.scheme)
    after = lint_crl(der, prepared.profile)
    if after.errors:
        raise CertificateCheckFailed(f"pkilint found errors in the signed CRL: "
                                     f"{'; '.join(f.describe() for f in after.errors[:3])}.")
    return IssuedCrl(prepared, der, crl, after)


def record_crl(vault, issued: IssuedCrl, out: Path | None, *, ceremony_id: str | None, actor: str) -> CrlRecord:
    p = issued.prepared
    pem = issued.crl.public_bytes(serialization.Encoding.PEM)
    written = write_pem_once(out, pem) if out is not None else None
    findings = [f.to_dict() for f in p.lint.warnings]
    try:
        with vault.store.atomic():
            record = vault.store.add_crl(
                issuer_certificate_id=p.issuer.record.id, crl_number=p.crl_number, this_update=iso(p.this_update),
                next_update=iso(p.next_update), revoked_count=len(p.entries), profile_name=p.profile.name,
                profile_sha256=p.profile.sha256, lint_findings=findings, der=issued.der, sha256=issued.sha256,
                path=None if out is None else str(Path(out).resolve()), ceremony_id=ceremony_id,
                revocations=[(r.certificate.id, r.reason, iso(p.this_update)) for r in p.new])
            for r in p.new:
                vault.ledger.append("certificate.revoked", {
                    "serial": r.certificate.serial_hex, "subject": r.certificate.subject, "reason": r.reason,
                    "issuer_serial": p.issuer.record.serial_hex, "crl_number": p.crl_number,
                }, actor=actor, ceremony_id=ceremony_id)
            vault.ledger.append("crl.issued", {
                "issuer": p.issuer.name.rfc4514_string(), "issuer_serial": p.issuer.record.serial_hex,
                "crl_number": p.crl_number, "this_update": iso(p.this_update), "next_update": iso(p.next_update),
                "revoked": [format(s, "x") for s, _, _ in p.entries], "profile": p.profile.name,
                "profile_sha256": p.profile.sha256, "sha256": issued.sha256, "path": record.path,
                "lint_level": p.lint.level, "lint_warnings": [f["code"] for f in findings],
            }, actor=actor, ceremony_id=ceremony_id)
    except BaseException:
        if written is not None:
            written.unlink(missing_ok=True)
        raise
    return record
