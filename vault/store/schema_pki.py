"""The certificate store's tables (one migration, listed in vault.store.schema).

Rules the schema keeps by itself, whatever the code above it does:

* a serial is reserved (``pki_serials``) before the HSM signs anything that carries it, in its own
  committed transaction, and never deleted: a crash after the signature still burns the serial,
  so no serial is ever used twice (PRIMARY KEY on the serial);
* certificates, revocations, CRLs and serials are append-only (no UPDATE, no DELETE), except
  that a reserved serial is tied once to the certificate that used it;
* a certificate is revoked at most once (UNIQUE); a CRL's number is strictly greater than every
  earlier CRL number of the same issuer (trigger).
"""

from __future__ import annotations

REVOCATION_REASONS = (
    "unspecified", "key-compromise", "ca-compromise", "affiliation-changed", "superseded",
    "cessation-of-operation", "certificate-hold", "privilege-withdrawn", "aa-compromise",
)
CERT_KINDS = ("root-ca", "intermediate", "cross-sign", "ocsp-signer", "leaf")


def _sql_in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _append_only(table: str) -> tuple[str, ...]:
    return (
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows cannot be deleted'); END""",
    )


PKI_STATEMENTS: tuple[str, ...] = (
    """CREATE TABLE pki_serials (
        serial_hex TEXT PRIMARY KEY CHECK (length(serial_hex) BETWEEN 1 AND 40),
        bits INTEGER NOT NULL CHECK (bits >= 64),
        reserved_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id),
        certificate_sha256 TEXT
    )""",
    """CREATE TRIGGER pki_serials_used_once BEFORE UPDATE ON pki_serials
        WHEN OLD.certificate_sha256 IS NOT NULL OR NEW.serial_hex <> OLD.serial_hex OR NEW.bits <> OLD.bits
             OR NEW.reserved_at <> OLD.reserved_at
        BEGIN SELECT RAISE(ABORT, 'a serial is tied to one certificate once and never changed'); END""",
    *_append_only("pki_serials"),
    f"""CREATE TABLE certificates (
        id INTEGER PRIMARY KEY,
        serial_hex TEXT NOT NULL UNIQUE REFERENCES pki_serials(serial_hex),
        kind TEXT NOT NULL CHECK (kind IN {_sql_in(CERT_KINDS)}),
        subject TEXT NOT NULL,
        issuer TEXT NOT NULL,
        issuer_certificate_id INTEGER REFERENCES certificates(id),
        key_label TEXT,
        spki_sha256 TEXT NOT NULL,
        is_ca INTEGER NOT NULL CHECK (is_ca IN (0, 1)),
        path_length INTEGER,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        profile_name TEXT NOT NULL,
        profile_sha256 TEXT NOT NULL,
        signature_scheme TEXT NOT NULL,
        lint_findings TEXT NOT NULL DEFAULT '[]',
        der BLOB NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT,
        issued_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id),
        CHECK (not_before < not_after)
    )""",
    "CREATE INDEX certificates_issuer ON certificates(issuer_certificate_id)",
    """CREATE TRIGGER certificates_no_update BEFORE UPDATE ON certificates
        BEGIN SELECT RAISE(ABORT, 'certificates are append-only: rows cannot be changed'); END""",
    *_append_only("certificates"),
    f"""CREATE TABLE revocations (
        id INTEGER PRIMARY KEY,
        certificate_id INTEGER NOT NULL UNIQUE REFERENCES certificates(id),
        reason TEXT NOT NULL CHECK (reason IN {_sql_in(REVOCATION_REASONS)}),
        revoked_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    """CREATE TRIGGER revocations_no_update BEFORE UPDATE ON revocations
        BEGIN SELECT RAISE(ABORT, 'revocations are append-only: rows cannot be changed'); END""",
    *_append_only("revocations"),
    """CREATE TABLE crls (
        id INTEGER PRIMARY KEY,
        issuer_certificate_id INTEGER NOT NULL REFERENCES certificates(id),
        crl_number INTEGER NOT NULL CHECK (crl_number >= 1),
        this_update TEXT NOT NULL,
        next_update TEXT NOT NULL,
        revoked_count INTEGER NOT NULL CHECK (revoked_count >= 0),
        profile_name TEXT NOT NULL,
        profile_sha256 TEXT NOT NULL,
        lint_findings TEXT NOT NULL DEFAULT '[]',
        der BLOB NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        path TEXT,
        issued_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id),
        UNIQUE (issuer_certificate_id, crl_number),
        CHECK (this_update < next_update)
    )""",
    """CREATE TRIGGER crls_number_monotonic BEFORE INSERT ON crls
        WHEN NEW.crl_number <= COALESCE((SELECT MAX(crl_number) FROM crls
                                         WHERE issuer_certificate_id = NEW.issuer_certificate_id), 0)
        BEGIN SELECT RAISE(ABORT, 'a CRL number must be greater than every earlier one of its issuer'); END""",
    """CREATE TRIGGER crls_no_update BEFORE UPDATE ON crls
        BEGIN SELECT RAISE(ABORT, 'CRLs are append-only: rows cannot be changed'); END""",
    *_append_only("crls"),
)
