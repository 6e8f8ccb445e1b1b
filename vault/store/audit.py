"""The ledger audit key and the end heads it signed.

``audit_keys``: every ledger audit key the vault has had (one per token: a restore onto a new
token makes a new one, since the private half never leaves its HSM). Only the public half and
how to find the private half on its token (label, CKA_ID, token serial) are kept.

``head_signatures``: one row per ceremony end the audit key signed inside the HSM: the exact
statement signed (vault.operations.audit_key.head_statement) and the signature. They are kept
apart from the ledger, like the attestations, so that a ledger cut or rewritten after a signed
head no longer holds the head a signature names. Both tables are append-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.store.base import StoreBase

AUDIT_STATEMENTS = (
    """CREATE TABLE audit_keys (
        fingerprint TEXT PRIMARY KEY,
        algorithm TEXT NOT NULL,
        label TEXT NOT NULL,
        cka_id TEXT NOT NULL,
        token_serial TEXT NOT NULL,
        public_key_pem TEXT NOT NULL,
        created_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    """CREATE TABLE head_signatures (
        id INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL UNIQUE REFERENCES ceremonies(id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        hash TEXT NOT NULL,
        statement TEXT NOT NULL,
        signature_hex TEXT NOT NULL,
        key_fingerprint TEXT NOT NULL REFERENCES audit_keys(fingerprint),
        at TEXT NOT NULL
    )""",
    "CREATE INDEX head_signatures_seq ON head_signatures(seq)",
    *(f"""CREATE TRIGGER {t}_append_only_{op} BEFORE {op.upper()} ON {t}
          BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"""
      for t in ("audit_keys", "head_signatures") for op in ("update", "delete")),
)


@dataclass(frozen=True, slots=True)
class AuditKeyRecord:
    fingerprint: str
    algorithm: str
    label: str
    cka_id: str
    token_serial: str
    public_key_pem: str
    created_at: str
    ceremony_id: str | None


@dataclass(frozen=True, slots=True)
class HeadSignatureRecord:
    id: int
    ceremony_id: str
    seq: int
    hash: str
    statement: str
    signature_hex: str
    key_fingerprint: str
    at: str


_KEY_COLS = "fingerprint, algorithm, label, cka_id, token_serial, public_key_pem, created_at, ceremony_id"
_SIG_COLS = "id, ceremony_id, seq, hash, statement, signature_hex, key_fingerprint, at"


class AuditRepository(StoreBase):
    def add_audit_key(self, *, fingerprint: str, algorithm: str, label: str, cka_id: str, token_serial: str,
                      public_key_pem: str, ceremony_id: str | None) -> AuditKeyRecord:
        with self._refusals(exists=f"The ledger audit key {fingerprint} is already recorded."), self.atomic():
            self._write(f"INSERT INTO audit_keys ({_KEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (fingerprint, algorithm, label, cka_id, token_serial, public_key_pem, self.now(), ceremony_id))
        return next(k for k in self.audit_keys() if k.fingerprint == fingerprint)

    def audit_keys(self) -> list[AuditKeyRecord]:
        """Every ledger audit key, oldest first."""
        return [AuditKeyRecord(*r) for r in self._rows(f"SELECT {_KEY_COLS} FROM audit_keys ORDER BY rowid")]

    def audit_key_of_token(self, token_serial: str) -> AuditKeyRecord | None:
        """The newest audit key recorded on the token with this serial."""
        rows = self._rows(f"SELECT {_KEY_COLS} FROM audit_keys WHERE token_serial = ? ORDER BY rowid DESC LIMIT 1",
                          (token_serial,))
        return AuditKeyRecord(*rows[0]) if rows else None

    def add_head_signature(self, *, ceremony_id: str, seq: int, hash_hex: str, statement: str, signature_hex: str,
                           key_fingerprint: str) -> HeadSignatureRecord:
        with self._refusals(exists=f"The end head of {ceremony_id} is already signed."), self.atomic():
            cur = self._write(f"INSERT INTO head_signatures ({_SIG_COLS[4:]}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (ceremony_id, seq, hash_hex, statement, signature_hex, key_fingerprint, self.now()))
        return HeadSignatureRecord(*self._rows(f"SELECT {_SIG_COLS} FROM head_signatures WHERE id = ?",
                                               (cur.lastrowid,))[0])

    def head_signatures(self, from_seq: int = 1) -> list[HeadSignatureRecord]:
        """The HSM-signed end heads at event ``from_seq`` or later, in signing order."""
        return [HeadSignatureRecord(*r) for r in self._rows(
            f"SELECT {_SIG_COLS} FROM head_signatures WHERE seq >= ? ORDER BY id", (from_seq,))]

    def head_signature_before(self, row_id: int) -> HeadSignatureRecord | None:
        rows = self._rows(f"SELECT {_SIG_COLS} FROM head_signatures WHERE id < ? ORDER BY id DESC LIMIT 1", (row_id,))
        return HeadSignatureRecord(*rows[0]) if rows else None

    def last_head_signature(self) -> HeadSignatureRecord | None:
        rows = self._rows(f"SELECT {_SIG_COLS} FROM head_signatures ORDER BY id DESC LIMIT 1")
        return HeadSignatureRecord(*rows[0]) if rows else None
