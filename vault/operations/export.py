"""Key export: a public key in PEM, DER, JWK or OpenSSH form; for an AES key only its check value.

Nothing secret is ever exported: key pairs give their public half as the token holds it
(checked against the fingerprint the vault recorded at generation), AES keys give the check
value recorded then. Every export is written once (never over an existing file), read back,
and recorded in the ledger with the file's SHA-256. The fingerprint is shown in hex and as PGP
words, to be read aloud and compared with the inventory.

JWK encoding uses ``jwcrypto`` (a maintained JOSE implementation) rather than our own
base64url of key numbers; PEM, DER and OpenSSH use ``cryptography``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from vault.backup.outfile import check_folder, refuse_existing, write_once_read_back
from vault.errors import ExportRefused, HsmCheckFailed
from vault.hsm.software import spki_fingerprint
from vault.operations._common import ACTOR
from vault.operations.keys import DESTROYED_STATES, resolve_key
from vault.pgpwords import words_for
from vault.store.records import KeyRecord
from vault.types import KeyAlgorithm

if TYPE_CHECKING:
    from vault.vault import Vault


class ExportFormat(enum.Enum):
    PEM = "pem"  # SubjectPublicKeyInfo, PEM
    DER = "der"  # SubjectPublicKeyInfo, DER
    JWK = "jwk"  # RFC 7517 JSON Web Key (public members only)
    OPENSSH = "openssh"  # one authorized_keys line
    KCV = "kcv"  # AES keys: the check value, nothing else


PAIR_FORMATS = (ExportFormat.PEM, ExportFormat.DER, ExportFormat.JWK, ExportFormat.OPENSSH)

#: The JOSE "alg" matching the console's signature formats (docs/architecture.md).
JOSE_ALG = {
    KeyAlgorithm.EC_P256: "ES256",
    KeyAlgorithm.EC_P384: "ES384",
    KeyAlgorithm.RSA_3072: "PS256",
    KeyAlgorithm.RSA_4096: "PS256",
    KeyAlgorithm.ED25519: "EdDSA",
}


@dataclass(frozen=True, slots=True)
class ExportResult:
    key: KeyRecord
    format: ExportFormat
    data: bytes
    path: str | None  # None: the caller prints ``data``
    sha256: str
    fingerprint: str
    fingerprint_words: str


def fingerprint_words(fingerprint: str) -> str:
    """Every byte of the fingerprint (``sha256:…`` or ``kcv:…``) as PGP words."""
    return " ".join(words_for(bytes.fromhex(fingerprint.split(":", 1)[-1])))


_SUFFIXES = {".pem": "pem", ".der": "der", ".jwk": "jwk", ".json": "jwk", ".pub": "openssh", ".kcv": "kcv"}


def format_for_path(path: Path) -> str | None:
    """The export format a file name asks for by its extension (None: the key's default)."""
    return _SUFFIXES.get(Path(path).suffix.lower())


def parse_format(value: str | None, key: KeyRecord) -> ExportFormat:
    if value is None:
        return ExportFormat.KCV if key.algorithm.is_secret_key else ExportFormat.PEM
    try:
        fmt = ExportFormat(value.lower())
    except ValueError:
        raise ExportRefused(f"{value!r} is not an export format.",
                            next_step="Use pem, der, jwk or openssh (key pairs) or kcv (AES keys).") from None
    if key.algorithm.is_secret_key and fmt is not ExportFormat.KCV:
        raise ExportRefused(f"{key.ref} is an AES key: its value never leaves the HSM; only its check value "
                            "is exported.", next_step="Export it with --format kcv.")
    if not key.algorithm.is_secret_key and fmt is ExportFormat.KCV:
        raise ExportRefused(f"{key.ref} is a key pair; it has no check value.",
                            next_step="Use --format pem, der, jwk or openssh.")
    return fmt


def encode_public(spki_der: bytes, key: KeyRecord, fmt: ExportFormat) -> bytes:
    """The public key ``spki_der`` in ``fmt``."""
    public = serialization.load_der_public_key(spki_der)
    if fmt is ExportFormat.DER:
        return spki_der
    if fmt is ExportFormat.PEM:
        return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if fmt is ExportFormat.OPENSSH:
        line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        return line + f" {key.ref}\n".encode()
    if fmt is ExportFormat.JWK:
        from jwcrypto.jwk import JWK

        if not isinstance(public, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
            raise ExportRefused(f"{key.ref}: no JWK form for this key type.")
        jwk = JWK.from_pyca(public).export_public(as_dict=True)
        jwk.update({"kid": key.ref, "use": "sig", "alg": JOSE_ALG[key.algorithm]})
        return (json.dumps(jwk, indent=2, sort_keys=True) + "\n").encode()
    raise ExportRefused(f"{fmt.value} is not a public-key format.")


def _kcv_statement(key: KeyRecord) -> bytes:
    return (json.dumps({
        "name": key.name, "version": key.version, "label": key.label, "algorithm": key.algorithm.value,
        "check_value": key.fingerprint, "check_value_words": fingerprint_words(key.fingerprint),
        "check_value_method": "AES-ECB(K, 0^16), first 3 bytes",
    }, indent=2, sort_keys=True) + "\n").encode()


def public_spki(vault: Vault, key: KeyRecord, session=None) -> bytes:
    """The SPKI DER of ``key`` read from its token (a public session unless ``session`` is given),
    checked against the fingerprint recorded at generation."""
    from vault.operations.keys import token_key

    own = session is None
    if own:
        session = vault.hsm().open_public_session(vault.token)
    try:
        pem = session.public_key_pem(token_key(session, key))
    finally:
        if own:
            session.close()
    der = serialization.load_pem_public_key(pem.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if spki_fingerprint(der) != key.fingerprint:
        raise HsmCheckFailed(f"The token's public key of {key.ref} does not match the fingerprint the vault recorded.")
    return der


def export_key(vault: Vault, ref: str, fmt: str | None = None, out: Path | None = None, *, session=None,
               ceremony_id: str | None = None, actor: str = ACTOR) -> ExportResult:
    """Export ``ref`` (NAME or NAME@VERSION) in ``fmt``; written once to ``out`` (None: returned only)."""
    key = resolve_key(vault, ref)
    export_format = parse_format(fmt, key)
    if key.state in DESTROYED_STATES:
        raise ExportRefused(f"{key.ref} is {key.state.value}; its objects are gone from the HSM.",
                            next_step="Export another version (`custodian keys list`).")
    if out is not None:
        refuse_existing(Path(out))  # before any HSM work: never overwrite, and the folder exists
        check_folder(Path(out))
    if export_format is ExportFormat.KCV:
        data = _kcv_statement(key)
    else:
        data = encode_public(public_spki(vault, key, session), key, export_format)
    digest = hashlib.sha256(data).hexdigest()
    path = None
    if out is not None:
        path = str(_write_once(Path(out), data))
    try:
        vault.ledger.append("key.exported", {
            "key": key.ref, "label": key.label, "algorithm": key.algorithm.value, "format": export_format.value,
            "fingerprint": key.fingerprint, "state": key.state.value, "path": path or "-", "sha256": digest,
        }, actor=actor, ceremony_id=ceremony_id)
    except BaseException:
        if path:
            Path(path).unlink(missing_ok=True)
        raise
    return ExportResult(key, export_format, data, path, digest, key.fingerprint, fingerprint_words(key.fingerprint))


def _write_once(path: Path, data: bytes) -> Path:
    return write_once_read_back(path, data, again="export again")
