"""Linting certificates and CRLs with pkilint, at the validation level the profile names.

* ``rfc5280``: pkilint's RFC 5280 certificate (or CRL) validators only, for a private PKI;
* ``cabf-serverauth``: the CA/Browser Forum TLS Baseline Requirements validators for the
  certificate type (the profile's ``cabf_type``, else one fixed by the kind: a root is ROOT-CA,
  an OCSP signer OCSP-RESPONDER; otherwise pkilint determines it from the certificate), with
  pkilint's filter of RFC 5280 findings the BRs supersede; CRLs get the BR CRL validators.

Severities: FATAL and ERROR stop the ceremony before the HSM signs; WARNING and NOTICE are
shown in the review and recorded with the certificate; INFO and DEBUG are dropped.
Validator trees are built once per level and type (building one costs ~0.25 s, a lint ~7 ms).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from pkilint import finding_filter, loader, pkix
from pkilint.cabf import cabf_crl, serverauth
from pkilint.cabf.serverauth.serverauth_constants import CertificateType
from pkilint.pkix import certificate, crl, extension, name
from pkilint.validation import ValidationFindingSeverity as Severity

from vault.errors import LintFailed
from vault.pki.profile import Profile

_KEPT = (Severity.FATAL, Severity.ERROR, Severity.WARNING, Severity.NOTICE)
_DEFAULT_CABF_TYPE = {"root-ca": "ROOT-CA", "ocsp-signer": "OCSP-RESPONDER"}


@dataclass(frozen=True, slots=True)
class LintFinding:
    severity: str  # FATAL | ERROR | WARNING | NOTICE
    code: str
    message: str
    where: str

    def to_dict(self) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message, "where": self.where}

    def describe(self) -> str:
        return f"{self.severity} {self.code}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True, slots=True)
class LintReport:
    level: str  # "rfc5280" | "cabf-serverauth:<TYPE>" | "rfc5280-crl" | "cabf-crl:<crl|arl>"
    findings: tuple[LintFinding, ...]

    @property
    def errors(self) -> tuple[LintFinding, ...]:
        return tuple(f for f in self.findings if f.severity in ("FATAL", "ERROR"))

    @property
    def warnings(self) -> tuple[LintFinding, ...]:
        """Warnings and notices: shown in the review and recorded."""
        return tuple(f for f in self.findings if f.severity in ("WARNING", "NOTICE"))

    def require_no_errors(self, what: str) -> None:
        if self.errors:
            shown = "; ".join(f.describe() for f in self.errors[:4])
            more = f" (and {len(self.errors) - 4} more)" if len(self.errors) > 4 else ""
            raise LintFailed(f"pkilint ({self.level}) found {len(self.errors)} error(s) in {what}: {shown}{more}.")

    def summary(self) -> str:
        if not self.findings:
            return f"pkilint {self.level}: no findings"
        return f"pkilint {self.level}: {len(self.errors)} errors, {len(self.warnings)} warnings/notices"


def _report(level: str, results) -> LintReport:
    found = []
    for result in results:
        for fd in result.finding_descriptions:
            if fd.finding.severity in _KEPT:
                found.append(LintFinding(fd.finding.severity.name, fd.finding.code, fd.message or "",
                                         str(result.node.path)))
    return LintReport(level, tuple(found))


@functools.lru_cache(maxsize=None)
def _pkix_certificate_validator():
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
        [certificate.create_issuer_validator_container([]), certificate.create_validity_validator_container(),
         certificate.create_subject_validator_container([]), certificate.create_extensions_validator_container([]),
         certificate.create_spki_validator_container([])])


@functools.lru_cache(maxsize=None)
def _cabf_certificate_validator(cert_type: CertificateType):
    return certificate.create_pkix_certificate_validator_container(
        serverauth.create_decoding_validators(), serverauth.create_validators(cert_type))


@functools.lru_cache(maxsize=None)
def _crl_validator(crl_type: str | None):
    """RFC 5280 CRL validators; with ``crl_type`` ("CRL" or "ARL") also the BR's."""
    validity, document = [], []
    if crl_type is not None:
        kind = crl.CertificateRevocationListType[crl_type]
        document.append(cabf_crl.CabfCrlReasonCodeAllowlistValidator(kind))
        validity.append(cabf_crl.create_validity_period_validator(kind))
    return crl.create_pkix_crl_validator_container(
        [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
         pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
        [crl.create_issuer_validator_container([]), crl.create_validity_validator_container(validity),
         crl.create_extensions_validator_container([])] + document)


def lint_certificate(der: bytes, profile: Profile) -> LintReport:
    """Lint a DER certificate (placeholder-signed before the HSM signs, the real one after)."""
    doc = loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    if profile.validation == "rfc5280":
        return _report("rfc5280", _pkix_certificate_validator().validate(doc.root))
    option = profile.cabf_type or _DEFAULT_CABF_TYPE.get(profile.kind)
    cert_type = CertificateType.from_option_str(option) if option else serverauth.determine_certificate_type(doc)
    results = _cabf_certificate_validator(cert_type).validate(doc.root)
    results, _ = finding_filter.filter_results(serverauth.create_serverauth_finding_filters(cert_type), results)
    return _report(f"cabf-serverauth:{cert_type.to_option_str}", results)


def lint_crl(der: bytes, profile: Profile) -> LintReport:
    doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(der, "crl")
    if profile.validation == "rfc5280":
        return _report("rfc5280-crl", _crl_validator(None).validate(doc.root))
    return _report(f"cabf-crl:{profile.crl_type}", _crl_validator(profile.crl_type.upper()).validate(doc.root))
