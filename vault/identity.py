"""Custodian identity: enrollment, passphrase unlock and signed attestations.

A custodian enrolls once with a name, a role and a passphrase. What is stored (``Enrollment``) is
safe to keep in the database and to print: the Ed25519 public key, a passphrase *verifier* and
the Ed25519 private key encrypted under the passphrase. The passphrase itself is never stored.

Derivation (all parameters are stored with the enrollment, so the profile can change later)::

    master   = Argon2id(NFC(passphrase) as UTF-8, salt, memory_cost KiB, iterations, lanes) -> 32 B
    verifier = HMAC-SHA256(master, "custodian-console/v1/identity/verifier")
    key_enc  = HKDF-SHA256(master, salt=none, info="custodian-console/v1/identity/key-encryption") -> 32 B
    blob     = nonce(12) || AES-256-GCM(key_enc, nonce, raw Ed25519 private key (32 B), ad)
    ad       = "custodian-console/v1/identity" NUL name NUL role NUL public_key_pem

The associated data binds the encrypted key to the custodian's name, role and public key: a blob
copied onto another enrollment does not open. ``unlock`` runs the memory-hard KDF once, compares
the verifier in constant time, decrypts and checks the key against the stored public key; every
failure raises the same ``PassphraseIncorrect`` message, so a refusal says nothing about which
check failed.

Passphrases are normalised to Unicode NFC (the same text typed on two keyboards gives the same
bytes) and must have at least ``MIN_PASSPHRASE_LENGTH`` (8) characters.

Memory: Python and OpenSSL keep copies we cannot wipe (``bytes`` are immutable; the private key
object lives inside OpenSSL). ``CustodianSigner.wipe`` drops our reference, and the derived keys
are held in ``Secret`` and wiped after use; that is best effort, as in ``vault.secret``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from hashlib import sha256
from typing import Sequence

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.errors import EnrollmentInvalid, PassphraseIncorrect, PassphraseTooShort, SignatureInvalid
from vault.secret import Secret
from vault.types import Role

MIN_PASSPHRASE_LENGTH = 8
MAX_NAME_LENGTH = 64
ENROLLMENT_FORMAT = "custodian-enrollment/v1"

_VERIFIER_LABEL = b"custodian-console/v1/identity/verifier"
_KEY_ENC_LABEL = b"custodian-console/v1/identity/key-encryption"
_AD_PREFIX = b"custodian-console/v1/identity"
_NONCE_LEN = 12
_SALT_LEN = 16
# Bounds checked when an enrollment is loaded: a tampered row must not make unlock allocate
# gigabytes or run for hours, nor quietly weaken the KDF below the Argon2 minimums.
_MAX_MEMORY_KIB = 4 * 1024 * 1024
_MAX_ITERATIONS = 64
_MAX_LANES = 64

#: The one message for every unlock failure (wrong passphrase, tampered blob, wrong key).
PASSPHRASE_REFUSED = "The passphrase was not accepted."

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --- KDF parameters -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id parameters, stored with each enrollment. ``memory_cost`` is in KiB."""

    memory_cost: int
    iterations: int
    lanes: int
    salt: bytes

    @classmethod
    def default(cls) -> "KdfParams":
        """Production strength: 64 MiB, 3 passes, 4 lanes (RFC 9106 second recommendation)."""
        return cls(memory_cost=64 * 1024, iterations=3, lanes=4, salt=os.urandom(_SALT_LEN))

    @classmethod
    def practice(cls) -> "KdfParams":
        """Practice vaults: 19 MiB, 2 passes, 1 lane (the OWASP minimum for Argon2id)."""
        return cls(memory_cost=19 * 1024, iterations=2, lanes=1, salt=os.urandom(_SALT_LEN))

    @classmethod
    def fast_for_tests(cls) -> "KdfParams":
        """Argon2's smallest legal parameters. Tests only: offers no protection."""
        return cls(memory_cost=8, iterations=1, lanes=1, salt=os.urandom(_SALT_LEN))

    @property
    def is_production_strength(self) -> bool:
        return self.memory_cost >= 64 * 1024 and self.iterations >= 3

    def validate(self) -> None:
        """Raise ``EnrollmentInvalid`` when the parameters are outside Argon2's or our bounds."""
        problems = []
        if not isinstance(self.salt, bytes) or len(self.salt) < _SALT_LEN:
            problems.append(f"salt must be at least {_SALT_LEN} bytes")
        if not 1 <= self.lanes <= _MAX_LANES:
            problems.append(f"lanes must be 1..{_MAX_LANES}")
        if not 1 <= self.iterations <= _MAX_ITERATIONS:
            problems.append(f"iterations must be 1..{_MAX_ITERATIONS}")
        if not 8 * max(self.lanes, 1) <= self.memory_cost <= _MAX_MEMORY_KIB:
            problems.append(f"memory_cost must be 8*lanes..{_MAX_MEMORY_KIB} KiB")
        if problems:
            raise EnrollmentInvalid("Argon2id parameters are not valid: " + "; ".join(problems) + ".")

    def to_dict(self) -> dict:
        return {
            "algorithm": "argon2id",
            "memory_cost": self.memory_cost,
            "iterations": self.iterations,
            "lanes": self.lanes,
            "salt": self.salt.hex(),
        }

    @classmethod
    def from_dict(cls, d: dict | str) -> "KdfParams":
        """From ``to_dict()`` output (or its JSON text, as the store keeps it)."""
        if isinstance(d, str):
            try:
                d = json.loads(d)
            except ValueError:
                raise EnrollmentInvalid("Enrollment KDF parameters are not valid JSON.") from None
        if not isinstance(d, dict) or d.get("algorithm") != "argon2id":
            raise EnrollmentInvalid("Enrollment KDF is not argon2id.")
        try:
            params = cls(
                memory_cost=_int(d["memory_cost"]),
                iterations=_int(d["iterations"]),
                lanes=_int(d["lanes"]),
                salt=bytes.fromhex(d["salt"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise EnrollmentInvalid(f"Enrollment KDF parameters are malformed ({type(e).__name__}).") from None
        params.validate()
        return params


def _int(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError("not an integer")
    return v


# --- enrollment -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Enrollment:
    """Everything stored about a custodian's identity. Nothing in here is secret."""

    name: str
    role: Role
    public_key_pem: str
    verifier: str  # hex of HMAC-SHA256(master, verifier label)
    kdf: KdfParams
    encrypted_key: str  # base64 of nonce || AES-256-GCM ciphertext+tag

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": ENROLLMENT_FORMAT,
                "name": self.name,
                "role": self.role.value,
                "public_key_pem": self.public_key_pem,
                "verifier": self.verifier,
                "kdf": self.kdf.to_dict(),
                "encrypted_key": self.encrypted_key,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> "Enrollment":
        try:
            d = json.loads(text)
        except (TypeError, ValueError):
            raise EnrollmentInvalid("Enrollment record is not valid JSON.") from None
        if not isinstance(d, dict) or d.get("format") != ENROLLMENT_FORMAT:
            raise EnrollmentInvalid(f"Enrollment record is not in the {ENROLLMENT_FORMAT} format.")
        try:
            role = Role(d["role"])
            name, pem, verifier, blob = d["name"], d["public_key_pem"], d["verifier"], d["encrypted_key"]
            kdf = KdfParams.from_dict(d["kdf"])
        except (KeyError, ValueError) as e:
            if isinstance(e, EnrollmentInvalid):
                raise
            raise EnrollmentInvalid(f"Enrollment record is missing or has a bad field ({e}).") from None
        if not all(isinstance(v, str) for v in (name, pem, verifier, blob)):
            raise EnrollmentInvalid("Enrollment record has a field of the wrong type.")
        _check_name(name)
        if not _HEX64.match(verifier):
            raise EnrollmentInvalid("Enrollment verifier is not 64 lowercase hex digits.")
        _load_public_key(pem, EnrollmentInvalid)
        return cls(name=name, role=role, public_key_pem=pem, verifier=verifier, kdf=kdf, encrypted_key=blob)

    @property
    def fingerprint(self) -> str:
        """``sha256:`` + hex of the public key's SubjectPublicKeyInfo DER (to read aloud)."""
        return public_key_fingerprint(self.public_key_pem)


def public_key_fingerprint(public_key_pem: str | bytes) -> str:
    """An enrolled person's key fingerprint: ``sha256:`` + hex of the SubjectPublicKeyInfo DER."""
    der = _load_public_key(public_key_pem, EnrollmentInvalid).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + sha256(der).hexdigest()


def normalise_name(name: str) -> str:
    """NFC, surrounding whitespace removed; raises ``EnrollmentInvalid`` when unusable."""
    if not isinstance(name, str):
        raise TypeError("name must be str")
    name = unicodedata.normalize("NFC", name).strip()
    _check_name(name)
    return name


def _check_name(name: str) -> None:
    if not name or len(name) > MAX_NAME_LENGTH or _CONTROL.search(name) or name != name.strip():
        raise EnrollmentInvalid(
            f"A custodian name must be 1 to {MAX_NAME_LENGTH} printable characters "
            "without surrounding spaces.",
            next_step="Type the name again.",
        )


def _passphrase_bytes(passphrase: Secret) -> Secret:
    if not isinstance(passphrase, Secret):
        raise TypeError("passphrase must be a vault.secret.Secret")
    raw = passphrase.reveal()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Secret(raw, "passphrase")  # not text: used as given
    return Secret(unicodedata.normalize("NFC", text), "passphrase")


def _ad(name: str, role: Role, public_key_pem: str) -> bytes:
    return b"\x00".join([_AD_PREFIX, name.encode(), role.value.encode(), public_key_pem.encode()])


def _derive(passphrase: Secret, kdf: KdfParams) -> tuple[Secret, Secret]:
    """(verifier bytes, key-encryption key), both from one Argon2id run."""
    master = Secret(
        Argon2id(
            salt=kdf.salt, length=32, iterations=kdf.iterations, lanes=kdf.lanes, memory_cost=kdf.memory_cost
        ).derive(passphrase.reveal()),
        "identity master",
    )
    with master:
        verifier = hmac.new(master.reveal(), _VERIFIER_LABEL, "sha256").digest()
        key_enc = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_ENC_LABEL).derive(master.reveal())
    return Secret(verifier, "verifier"), Secret(key_enc, "identity key")


def enroll(name: str, role: Role, passphrase: Secret, *, kdf: KdfParams | None = None) -> Enrollment:
    """Create a custodian identity: a fresh Ed25519 key encrypted under ``passphrase``."""
    name = normalise_name(name)
    if not isinstance(role, Role):
        raise TypeError("role must be a vault.types.Role")
    kdf = kdf or KdfParams.default()
    kdf.validate()
    with _passphrase_bytes(passphrase) as pw:
        try:
            length = len(pw.reveal_text())
        except UnicodeDecodeError:
            length = len(pw)
        if length < MIN_PASSPHRASE_LENGTH:
            raise PassphraseTooShort(
                f"The passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters.",
                next_step=f"Choose a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters (a few words is best).",
            )
        verifier, key_enc = _derive(pw, kdf)
    private = Ed25519PrivateKey.generate()
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )
    raw = Secret(
        private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()),
        "ed25519 private key",
    )
    nonce = os.urandom(_NONCE_LEN)
    with verifier, key_enc, raw:
        blob = nonce + AESGCM(key_enc.reveal()).encrypt(nonce, raw.reveal(), _ad(name, role, pem))
        return Enrollment(
            name=name,
            role=role,
            public_key_pem=pem,
            verifier=verifier.reveal().hex(),
            kdf=kdf,
            encrypted_key=base64.b64encode(blob).decode("ascii"),
        )


def unlock(enrollment: Enrollment, passphrase: Secret) -> "CustodianSigner":
    """Open the custodian's signing key. Any failure: ``PassphraseIncorrect`` (one message)."""
    enrollment.kdf.validate()
    with _passphrase_bytes(passphrase) as pw:
        verifier, key_enc = _derive(pw, enrollment.kdf)
    with verifier, key_enc:
        ok = hmac.compare_digest(verifier.reveal().hex(), enrollment.verifier)
        private = None
        try:
            blob = base64.b64decode(enrollment.encrypted_key, validate=True)
            nonce, ct = blob[:_NONCE_LEN], blob[_NONCE_LEN:]
            ad = _ad(enrollment.name, enrollment.role, enrollment.public_key_pem)
            with Secret(AESGCM(key_enc.reveal()).decrypt(nonce, ct, ad), "ed25519 private key") as raw:
                private = Ed25519PrivateKey.from_private_bytes(raw.reveal())
            pub = private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            ok = hmac.compare_digest(pub, enrollment.public_key_pem.encode()) and ok
        except (InvalidTag, ValueError, binascii.Error):
            ok = False
    if not ok or private is None:
        raise PassphraseIncorrect(PASSPHRASE_REFUSED)
    return CustodianSigner(enrollment.name, enrollment.role, enrollment.public_key_pem, private)


class CustodianSigner:
    """An unlocked custodian key. Keep it for one attestation, then ``wipe()`` (or use ``with``)."""

    __slots__ = ("name", "role", "public_key_pem", "_key")

    def __init__(self, name: str, role: Role, public_key_pem: str, key: Ed25519PrivateKey) -> None:
        self.name = name
        self.role = role
        self.public_key_pem = public_key_pem
        self._key: Ed25519PrivateKey | None = key

    def sign(self, statement: bytes) -> bytes:
        """Ed25519 signature, checked against the stored public key before it is returned."""
        if self._key is None:
            raise ValueError("this custodian signer was wiped; unlock the enrollment again")
        signature = self._key.sign(statement)
        verify_attestation(self.public_key_pem, statement, signature)
        return signature

    def wipe(self) -> None:
        self._key = None  # OpenSSL owns the key memory; dropping the last reference frees it

    @property
    def wiped(self) -> bool:
        return self._key is None

    def __enter__(self) -> "CustodianSigner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def __repr__(self) -> str:
        state = "wiped" if self._key is None else "key redacted"
        return f"<CustodianSigner {self.name!r} {self.role.value} {state}>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("CustodianSigner cannot be pickled")


# --- attestations ---------------------------------------------------------------------------------
def _load_public_key(pem: str | bytes, error: type) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError):
        raise error("The public key is not a valid PEM public key.") from None
    if not isinstance(key, Ed25519PublicKey):
        raise error("The public key is not an Ed25519 key.")
    return key


def verify_attestation(public_key_pem: str | bytes, statement: bytes, signature: bytes) -> None:
    """Raise ``SignatureInvalid`` unless ``signature`` is the key's Ed25519 signature of ``statement``."""
    key = _load_public_key(public_key_pem, SignatureInvalid)
    try:
        key.verify(signature, statement)
    except InvalidSignature:
        raise SignatureInvalid("The attestation signature does not match the statement and public key.") from None


ATTESTATION_HEADER = "custodian-console attestation v1"
ATTESTATION_HEADER_V2 = "custodian-console attestation v2"


def attestation_statement(
    *,
    ceremony_id: str,
    ceremony_name: str,
    ledger_head: str,
    custodian: str,
    role: Role,
    agree: bool,
    at: datetime | str,
    changes: Sequence[str] | None = None,
    deviations: Sequence[str] = (),
    dissents: Sequence[str] = (),
) -> bytes:
    """The canonical bytes a custodian signs. ``custodian transcript verify`` rebuilds them offline.

    Format (UTF-8, every line ends with a single LF, including the last; no other whitespace)::

        custodian-console attestation v2
        ceremony-id: <ceremony id>
        ceremony-name: <ceremony name>
        ledger-head: <SHA-256 ledger head hash, 64 lowercase hex digits>
        custodian: <custodian name, NFC>
        role: <administrator | custodian | witness>
        decision: <agree | do-not-agree>
        time: <UTC, YYYY-MM-DDTHH:MM:SSZ>
        change: <one line per thing the ceremony changed, in ledger order; "none" if nothing>
        deviation: <one line per deviation the witness recorded; "none" if none>
        dissent: <one line per earlier "do not agree" in this ceremony; "none" if none>

    (vault.ceremony.statement derives the change, deviation and dissent lines from the ledger
    events the closing head covers.) Each line is ``key``, colon, one space, value. Values may not
    contain control characters (so no value can forge a line); ``at`` is converted to UTC and
    truncated to whole seconds. Verify with any Ed25519 implementation over exactly these bytes.
    Without ``changes`` the statement is the older v1 text: the same first eight lines, no
    change/deviation/dissent lines, header ``... attestation v1`` (transcripts made before v2).
    """
    if not isinstance(role, Role):
        raise TypeError("role must be a vault.types.Role")
    if not isinstance(agree, bool):
        raise TypeError("agree must be a bool")
    head = ledger_head.lower()
    if not _HEX64.match(head):
        raise ValueError("ledger_head must be a SHA-256 hash as 64 hex digits")
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("attestation time must be timezone-aware")
        at = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif not _TIME_RE.match(at):
        raise ValueError("attestation time must be a datetime or YYYY-MM-DDTHH:MM:SSZ")
    fields = [
        ("ceremony-id", ceremony_id),
        ("ceremony-name", ceremony_name),
        ("ledger-head", head),
        ("custodian", unicodedata.normalize("NFC", custodian)),
        ("role", role.value),
        ("decision", "agree" if agree else "do-not-agree"),
        ("time", at),
    ]
    header = ATTESTATION_HEADER
    if changes is not None:
        header = ATTESTATION_HEADER_V2
        for key, values in (("change", changes), ("deviation", deviations), ("dissent", dissents)):
            fields += [(key, v) for v in (list(values) or ["none"])]
    for key, value in fields:
        if not isinstance(value, str) or not value or _CONTROL.search(value):
            raise ValueError(f"attestation field {key} must be non-empty text without control characters")
    lines = [header] + [f"{k}: {v}" for k, v in fields]
    return ("\n".join(lines) + "\n").encode("utf-8")
