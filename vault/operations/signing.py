"""Sign a payload with a master key: verified in software before the signature is written once.

Signature formats are vault.hsm's: ECDSA (DER) over SHA-256/SHA-384 for P-256/P-384,
RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32) for RSA, pure EdDSA for Ed25519. The signature
file holds the raw signature bytes; the public key to check it with is in the result (PEM).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from vault.backup.outfile import write_once_read_back
from vault.errors import (HsmCheckFailed, KeyNotActive, MechanismUnsupported, PayloadUnreadable,
                          SignatureInvalid)
from vault.hsm import HsmSession, verify_signature
from vault.hsm.software import public_key_algorithm, spki_fingerprint
from vault.inputs import SIGNATURE_BYTES, InputTooLarge, read_bounded
from vault.operations._common import ACTOR, pem_to_der, refuse_existing
from vault.operations.keys import _key_row, token_key
from vault.types import KeyAlgorithm, KeyPurpose, KeyState

if TYPE_CHECKING:
    from vault.vault import Vault

MAX_PAYLOAD_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SignResult:
    label: str
    algorithm: KeyAlgorithm
    fingerprint: str
    payload_path: str
    payload_sha256: str
    signature_path: str
    signature_sha256: str
    public_key_pem: str


def _read_payload(path: Path, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The whole file, read at most ``limit`` bytes far (``/dev/zero`` or a pipe is refused, not
    read until memory runs out: vault.inputs)."""
    try:
        return read_bounded(path, limit)
    except InputTooLarge:
        if limit == SIGNATURE_BYTES:
            raise PayloadUnreadable(f"Cannot read the signature {path}: it holds more than {limit} bytes, and no "
                                    "signature is that long.", next_step="Give the signature file.") from None
        raise PayloadUnreadable(f"{path} is larger than {limit} bytes; payloads up to {limit} bytes are signed.",
                                next_step="Sign a digest or a smaller file.") from None  # fmt: skip
    except OSError as exc:
        raise PayloadUnreadable(f"Cannot read the payload {path}: {exc.strerror or exc}.") from None


def sign_payload(
    vault: Vault,
    session: HsmSession,
    label: str,
    payload: Path,
    out: Path,
    *,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
    expected_sha256: str | None = None,
) -> SignResult:
    """Sign the file ``payload`` with the active key ``label``; write the signature to the new file ``out``.

    ``expected_sha256``: the payload digest that was reviewed; a payload that differs is refused
    (``REVIEW_MISMATCH``) before the HSM signs."""
    payload, out = Path(payload), Path(out)
    record = _key_row(vault, label)
    if record.state is not KeyState.ACTIVE:
        raise KeyNotActive(f"Key {label!r} is {record.state.value}; only an active key signs.")
    if not record.algorithm.can_sign:
        raise MechanismUnsupported(f"Key {label!r} is {record.algorithm.value}; only key pairs sign.",
                                   next_step="Choose an EC, RSA or Ed25519 key.")  # fmt: skip
    if record.purpose is not KeyPurpose.SIGN:
        from vault.errors import PurposeMismatch

        raise PurposeMismatch(f"Key {record.ref} has the purpose {record.purpose.value}; only signing keys sign.")
    if record.expires_at and vault.store.now() >= record.expires_at:
        from vault.errors import KeyExpired

        raise KeyExpired(f"Key {record.ref}'s cryptoperiod ended at {record.expires_at}; it signs nothing new.")
    refuse_existing(out)
    data = _read_payload(payload)
    if expected_sha256 is not None and hashlib.sha256(data).hexdigest() != expected_sha256:
        from vault.errors import ReviewMismatch

        raise ReviewMismatch(f"The payload {payload} changed after the review; nothing was signed.",
                             next_step="Start the signing again and review the payload that is there now.")
    key = token_key(session, record)
    pem = session.public_key_pem(key)
    if spki_fingerprint(pem_to_der(pem)) != record.fingerprint:
        raise HsmCheckFailed(f"The token's public key of {label!r} is not the one the vault recorded.")
    signature = session.sign(key, data)
    try:  # here too, whatever the HSM layer did: the vault checks what it writes
        verify_signature(pem, record.algorithm, data, signature)
    except SignatureInvalid:
        raise HsmCheckFailed(f"The HSM's signature of {payload.name} with {label!r} did not verify in software; "
                             "nothing was written.") from None
    _write_once(out, signature)
    result = SignResult(
        label=record.label,
        algorithm=record.algorithm,
        fingerprint=record.fingerprint,
        payload_path=str(payload.resolve()),
        payload_sha256=hashlib.sha256(data).hexdigest(),
        signature_path=str(out.resolve()),
        signature_sha256=hashlib.sha256(signature).hexdigest(),
        public_key_pem=pem,
    )
    try:
        vault.ledger.append(
            "payload.signed",
            {"label": record.label, "key": record.ref, "algorithm": record.algorithm.value,
             "fingerprint": record.fingerprint, "payload": result.payload_path, "payload_sha256": result.payload_sha256,
             "payload_size": len(data), "signature": result.signature_path,
             "signature_sha256": result.signature_sha256},
            actor=actor,
            ceremony_id=ceremony_id,
        )  # fmt: skip
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return result


def _write_once(path: Path, data: bytes) -> None:
    write_once_read_back(path, data, again="sign again")


MAX_PUBLIC_KEY_BYTES = 64 * 1024


def read_public_key(path: Path) -> str:
    """The public key file of ``custodian verify`` as PEM: PEM or DER SubjectPublicKeyInfo (or an
    RSA PKCS#1 DER public key); ``PublicKeyUnreadable`` names the file and what is wrong."""
    from vault.errors import PublicKeyUnreadable

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PUBLIC_KEY_BYTES + 1)
    except OSError as exc:
        raise PublicKeyUnreadable(f"Cannot read the public key {path}: {exc.strerror or exc}.") from None
    if len(raw) > MAX_PUBLIC_KEY_BYTES:
        raise PublicKeyUnreadable(f"{path} is larger than any public key ({MAX_PUBLIC_KEY_BYTES} bytes or more).")
    key = None
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(raw)
        except (ValueError, TypeError):
            raise PublicKeyUnreadable(f"{path} is a PEM file, but not of a public key the console can read.") from None
    else:
        try:
            key = serialization.load_der_public_key(raw)
        except (ValueError, TypeError):
            raise PublicKeyUnreadable(f"{path} is neither a PEM nor a DER public key.") from None
    if public_key_algorithm(key) is None:
        size = getattr(key, "key_size", None)
        what = f" (it reads as a {type(key).__name__.replace('PublicKey', '').lstrip('_')} key of {size} bits)" if size else ""
        raise PublicKeyUnreadable(f"{path} is not the public key of a key the console signs with{what}: "
                                  "is it the signature or another file?",
                                  next_step="Give the public key of an EC P-256/P-384, RSA-3072/4096 or Ed25519 key.")
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def read_signed_file(path: Path, what: str) -> bytes:
    """A payload or signature file for verification (``PayloadUnreadable`` naming it)."""
    try:
        return _read_payload(Path(path), SIGNATURE_BYTES if what == "signature" else MAX_PAYLOAD_BYTES)
    except PayloadUnreadable as exc:
        raise PayloadUnreadable(exc.message.replace("the payload", f"the {what}"), next_step=exc.next_step) from None


def verify_payload(
    public_pem: str, payload: Path | bytes, signature: Path | bytes, *, algorithm: KeyAlgorithm | None = None
) -> None:
    """Check a signature made by ``sign_payload``; raises SignatureInvalid. ``algorithm`` None: from the key."""
    data = payload if isinstance(payload, bytes) else _read_payload(Path(payload))
    sig = signature if isinstance(signature, bytes) else _read_payload(Path(signature), SIGNATURE_BYTES)
    if algorithm is None:
        from vault.errors import SignatureInvalid

        try:
            algorithm = public_key_algorithm(serialization.load_pem_public_key(public_pem.encode("ascii")))
        except ValueError:
            algorithm = None
        if algorithm is None:
            raise SignatureInvalid("The public key is not a PEM key of an algorithm the console signs with.")
    verify_signature(public_pem, KeyAlgorithm(algorithm), data, sig)
