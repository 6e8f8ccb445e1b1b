"""The certificate store: serials, issued certificates, revocations and CRLs (schema: schema_pki).

Everything is append-only; see vault.store.schema_pki for the rules the schema itself keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

from vault.errors import RecordNotFound, SerialReused, StoreError
from vault.store.base import StoreBase
from vault.store.schema_pki import REVOCATION_REASONS


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    id: int
    serial_hex: str
    kind: str
    subject: str
    issuer: str
    issuer_certificate_id: int | None
    key_label: str | None  # the HSM key of this certificate's subject, when it is one of ours
    spki_sha256: str
    is_ca: bool
    path_length: int | None
    not_before: str
    not_after: str
    profile_name: str
    profile_sha256: str
    signature_scheme: str
    lint_findings: tuple[dict, ...]
    der: bytes
    sha256: str
    path: str | None
    issued_at: str
    ceremony_id: str | None


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    id: int
    certificate_id: int
    serial_hex: str
    reason: str
    revoked_at: str
    recorded_at: str
    ceremony_id: str | None


@dataclass(frozen=True, slots=True)
class CrlRecord:
    id: int
    issuer_certificate_id: int
    crl_number: int
    this_update: str
    next_update: str
    revoked_count: int
    profile_name: str
    profile_sha256: str
    lint_findings: tuple[dict, ...]
    der: bytes
    sha256: str
    path: str | None
    issued_at: str
    ceremony_id: str | None


@dataclass(frozen=True, slots=True)
class NewCertificate:
    serial_hex: str
    kind: str
    subject: str
    issuer: str
    issuer_certificate_id: int | None
    key_label: str | None
    spki_sha256: str
    is_ca: bool
    path_length: int | None
    not_before: str
    not_after: str
    profile_name: str
    profile_sha256: str
    signature_scheme: str
    lint_findings: tuple[dict, ...]
    der: bytes
    sha256: str
    path: str | None
    ceremony_id: str | None


_CERT_COLS = ("id, serial_hex, kind, subject, issuer, issuer_certificate_id, key_label, spki_sha256, is_ca, "
              "path_length, not_before, not_after, profile_name, profile_sha256, signature_scheme, lint_findings, "
              "der, sha256, path, issued_at, ceremony_id")
_CRL_COLS = ("id, issuer_certificate_id, crl_number, this_update, next_update, revoked_count, profile_name, "
             "profile_sha256, lint_findings, der, sha256, path, issued_at, ceremony_id")


def _cert(r: tuple) -> CertificateRecord:
    r = list(r)
    r[8] = bool(r[8])
    r[15] = tuple(json.loads(r[15]))
    r[16] = bytes(r[16])
    return CertificateRecord(*r)


def _crl(r: tuple) -> CrlRecord:
    r = list(r)
    r[8] = tuple(json.loads(r[8]))
    r[9] = bytes(r[9])
    return CrlRecord(*r)


class CertificateRepository(StoreBase):
    # --- serials ---------------------------------------------------------------------------------
    def reserve_serial(self, serial_hex: str, *, bits: int, ceremony_id: str | None = None) -> None:
        """Record ``serial_hex`` as used, committed before anything carrying it is signed.

        SerialReused if it was ever reserved before (by a certificate or a signing that crashed).
        """
        serial_hex = serial_hex.lower()
        try:
            with self.atomic():
                if self.conn.execute("SELECT 1 FROM pki_serials WHERE serial_hex = ?", (serial_hex,)).fetchone():
                    raise SerialReused(f"Serial {serial_hex} was already used by this vault.")
                self._write("INSERT INTO pki_serials (serial_hex, bits, reserved_at, ceremony_id) VALUES (?, ?, ?, ?)",
                            (serial_hex, bits, self.now(), ceremony_id))
        except SerialReused:
            raise
        except Exception as exc:  # sqlite3 errors; the text names tables and columns only
            raise StoreError(f"The serial could not be reserved: {exc}.") from None

    def serial_reserved(self, serial_hex: str) -> bool:
        return self.conn.execute("SELECT 1 FROM pki_serials WHERE serial_hex = ?",
                                 (serial_hex.lower(),)).fetchone() is not None

    # --- certificates ------------------------------------------------------------------------------
    def add_certificate(self, new: NewCertificate) -> CertificateRecord:
        """Insert an issued certificate and tie its reserved serial to it, in one transaction."""
        serial = new.serial_hex.lower()
        with self._refusals(exists=f"A certificate with serial {serial} or the same bytes is already recorded.",
                            missing="The certificate's serial was never reserved, or its issuer is not recorded."):
            with self.atomic():
                if not self.serial_reserved(serial):
                    raise RecordNotFound(f"Serial {serial} was never reserved; nothing is recorded without it.")
                cur = self._write(
                    "INSERT INTO certificates (serial_hex, kind, subject, issuer, issuer_certificate_id, key_label, "
                    "spki_sha256, is_ca, path_length, not_before, not_after, profile_name, profile_sha256, "
                    "signature_scheme, lint_findings, der, sha256, path, issued_at, ceremony_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (serial, new.kind, new.subject, new.issuer, new.issuer_certificate_id, new.key_label,
                     new.spki_sha256, int(new.is_ca), new.path_length, new.not_before, new.not_after,
                     new.profile_name, new.profile_sha256, new.signature_scheme, json.dumps(list(new.lint_findings)),
                     new.der, new.sha256, new.path, self.now(), new.ceremony_id))
                self._write("UPDATE pki_serials SET certificate_sha256 = ? WHERE serial_hex = ?", (new.sha256, serial))
                return self.get_certificate(cur.lastrowid)

    def get_certificate(self, cert_id: int) -> CertificateRecord:
        return _cert(self._row(f"SELECT {_CERT_COLS} FROM certificates WHERE id = ?", (cert_id,),
                               f"No certificate with id {cert_id}."))

    def find_certificate(self, ref: str) -> CertificateRecord:
        """By id, serial (hex, optional colons) or SHA-256 (or a unique prefix of 8+ hex digits of it)."""
        text = ref.strip().lower().replace(":", "")
        if text.isdigit() and len(text) < 8:
            return self.get_certificate(int(text))
        rows = self._rows(f"SELECT {_CERT_COLS} FROM certificates WHERE serial_hex = ? OR sha256 = ?", (text, text))
        if not rows and len(text) >= 8:
            rows = self._rows(f"SELECT {_CERT_COLS} FROM certificates WHERE sha256 LIKE ?", (text + "%",))
        if len(rows) != 1:
            raise RecordNotFound(f"No single certificate matches {ref!r}.",
                                 next_step="List certificates with `custodian certs list`.")
        return _cert(rows[0])

    def list_certificates(self, *, issuer_certificate_id: int | None = None) -> list[CertificateRecord]:
        if issuer_certificate_id is None:
            rows = self._rows(f"SELECT {_CERT_COLS} FROM certificates ORDER BY id")
        else:
            rows = self._rows(f"SELECT {_CERT_COLS} FROM certificates WHERE issuer_certificate_id = ? ORDER BY id",
                              (issuer_certificate_id,))
        return [_cert(r) for r in rows]

    def certificates_for_key(self, key_label: str) -> list[CertificateRecord]:
        return [_cert(r) for r in self._rows(f"SELECT {_CERT_COLS} FROM certificates WHERE key_label = ? ORDER BY id",
                                             (key_label,))]

    # --- revocations ---------------------------------------------------------------------------------
    def revoke_certificate(self, certificate_id: int, *, reason: str, revoked_at: str,
                           ceremony_id: str | None = None) -> RevocationRecord:
        if reason not in REVOCATION_REASONS:
            raise ValueError(f"unknown revocation reason {reason!r}")
        with self._refusals(exists=f"Certificate {certificate_id} is already revoked.",
                            missing=f"No certificate with id {certificate_id}."):
            with self.atomic():
                cur = self._write("INSERT INTO revocations (certificate_id, reason, revoked_at, recorded_at, ceremony_id) "
                                  "VALUES (?, ?, ?, ?, ?)", (certificate_id, reason, revoked_at, self.now(), ceremony_id))
                return self._revocation(cur.lastrowid)

    def _revocation(self, rid: int) -> RevocationRecord:
        r = self._row("SELECT r.id, r.certificate_id, c.serial_hex, r.reason, r.revoked_at, r.recorded_at, "
                      "r.ceremony_id FROM revocations r JOIN certificates c ON c.id = r.certificate_id WHERE r.id = ?",
                      (rid,), f"No revocation {rid}.")
        return RevocationRecord(*r)

    def revocation_of(self, certificate_id: int) -> RevocationRecord | None:
        row = self.conn.execute("SELECT id FROM revocations WHERE certificate_id = ?", (certificate_id,)).fetchone()
        return None if row is None else self._revocation(row[0])

    def revocations_by_issuer(self, issuer_certificate_id: int) -> list[RevocationRecord]:
        rows = self._rows("SELECT r.id FROM revocations r JOIN certificates c ON c.id = r.certificate_id "
                          "WHERE c.issuer_certificate_id = ? ORDER BY r.id", (issuer_certificate_id,))
        return [self._revocation(r[0]) for r in rows]

    # --- CRLs ---------------------------------------------------------------------------------------------
    def next_crl_number(self, issuer_certificate_id: int) -> int:
        row = self.conn.execute("SELECT MAX(crl_number) FROM crls WHERE issuer_certificate_id = ?",
                                (issuer_certificate_id,)).fetchone()
        return (row[0] or 0) + 1

    def add_crl(self, *, issuer_certificate_id: int, crl_number: int, this_update: str, next_update: str,
                revoked_count: int, profile_name: str, profile_sha256: str, lint_findings: Iterable[dict],
                der: bytes, sha256: str, path: str | None, ceremony_id: str | None,
                revocations: Iterable[tuple[int, str, str]] = ()) -> CrlRecord:
        """Record a CRL and the revocations it newly carries ((certificate_id, reason, revoked_at)), atomically."""
        with self._refusals(exists=f"CRL number {crl_number} of this issuer (or these bytes) is already recorded."):
            with self.atomic():
                for cert_id, reason, revoked_at in revocations:
                    self.revoke_certificate(cert_id, reason=reason, revoked_at=revoked_at, ceremony_id=ceremony_id)
                cur = self._write(
                    "INSERT INTO crls (issuer_certificate_id, crl_number, this_update, next_update, revoked_count, "
                    "profile_name, profile_sha256, lint_findings, der, sha256, path, issued_at, ceremony_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (issuer_certificate_id, crl_number, this_update, next_update, revoked_count, profile_name,
                     profile_sha256, json.dumps(list(lint_findings)), der, sha256, path, self.now(), ceremony_id))
                return _crl(self._row(f"SELECT {_CRL_COLS} FROM crls WHERE id = ?", (cur.lastrowid,), "CRL vanished"))

    def list_crls(self, issuer_certificate_id: int | None = None) -> list[CrlRecord]:
        if issuer_certificate_id is None:
            rows = self._rows(f"SELECT {_CRL_COLS} FROM crls ORDER BY id")
        else:
            rows = self._rows(f"SELECT {_CRL_COLS} FROM crls WHERE issuer_certificate_id = ? ORDER BY crl_number",
                              (issuer_certificate_id,))
        return [_crl(r) for r in rows]

