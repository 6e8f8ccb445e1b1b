"""What the ledger audit key signs at every ceremony's end, and checking it (software only).

The HSM signs these exact UTF-8 bytes (every line ends with one LF, the last one too)::

    custodian-console ledger head v1
    ceremony-id: <ceremony id>
    outcome: <completed | completed with dissent | aborted>
    ledger-head: <seq>:<hash of the ceremony's final event, 64 lowercase hex>
    previous-signed-head: <seq>:<hash of the end head the audit key signed before> | none
    audit-key: <sha256: fingerprint of the audit key's SubjectPublicKeyInfo DER>
    time: <UTC, YYYY-MM-DDTHH:MM:SSZ>

``previous-signed-head`` chains the signatures: a signed head deleted from between two others
is named by the next one. Signature formats (vault.hsm.signing): Ed25519 pure EdDSA; EC P-256
ECDSA over SHA-256, DER; RSA RSASSA-PSS SHA-256, MGF1-SHA-256, salt 32. This module needs no
PKCS#11: evidence is checked offline with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

HEADER = "custodian-console ledger head v1"
FIELDS = ("ceremony-id", "outcome", "ledger-head", "previous-signed-head", "audit-key", "time")
PSS_SALT = 32


@dataclass(frozen=True, slots=True)
class HeadStatement:
    ceremony_id: str
    outcome: str
    seq: int
    hash_hex: str
    previous: tuple[int, str] | None
    audit_key: str
    time: str

    def text(self) -> str:
        prev = "none" if self.previous is None else f"{self.previous[0]}:{self.previous[1]}"
        values = (self.ceremony_id, self.outcome, f"{self.seq}:{self.hash_hex}", prev, self.audit_key, self.time)
        return HEADER + "\n" + "".join(f"{k}: {v}\n" for k, v in zip(FIELDS, values))


def parse_statement(text: str) -> HeadStatement | None:
    """The statement's fields, or None when it is not a well-formed v1 head statement."""
    lines = text.split("\n")
    if len(lines) != len(FIELDS) + 2 or lines[0] != HEADER or lines[-1] != "":
        return None
    values = {}
    for key, line in zip(FIELDS, lines[1:-1]):
        name, sep, value = line.partition(": ")
        if name != key or not sep:
            return None
        values[key] = value

    def head(value: str) -> tuple[int, str] | None:
        seq, sep, digest = value.partition(":")
        if not sep or not seq.isdigit() or len(digest) != 64:
            raise ValueError(value)
        return int(seq), digest

    try:
        seq, digest = head(values["ledger-head"])
        prev = None if values["previous-signed-head"] == "none" else head(values["previous-signed-head"])
    except ValueError:
        return None
    return HeadStatement(values["ceremony-id"], values["outcome"], seq, digest, prev, values["audit-key"],
                         values["time"])


def fingerprint(public_key_pem: str) -> str:
    """``sha256:`` + hex of the SubjectPublicKeyInfo DER (ValueError for a PEM that is no public key)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_key_pem.encode("utf-8"))
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + sha256(der).hexdigest()


def verifies(public_key_pem: str, statement: str, signature_hex: str) -> bool:
    """True when ``signature_hex`` is the audit key's signature of ``statement`` (formats above)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("utf-8"))
        signature, data = bytes.fromhex(signature_hex), statement.encode("utf-8")
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA384() if key.curve.key_size == 384 else hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT),
                       hashes.SHA256())
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnicodeError):
        return False
    return True
