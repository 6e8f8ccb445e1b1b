"""Key transport between vaults (docs/transport-format.md), quorum on both sides.

Receiver: ``make_import_request`` generates (or reuses) an RSA transport key in its HSM and
writes an import request signed by one of its signing keys. Sender: ``send_key`` verifies the
request against the receiver's pinned signing key, wraps the chosen key to the transport key
inside its HSM (vault.hsm.transport) and writes a transport file signed by one of its own
signing keys. Receiver: ``receive_key`` verifies the file against the sender's pinned key,
checks that the request is its own and the transfer is new (a file imports once), unwraps in
its HSM, checks the fingerprint, and records where the key came from.

Every check comes before any HSM object is made; a failure after it destroys what was made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from vault.errors import (LabelExists, RecordNotFound, SignatureInvalid, TransportRefused, VaultError)
from vault.hsm import KeyObject
from vault.inputs import SIGNATURE_BYTES, TRANSPORT_FILE_BYTES, read_bounded
from vault.hsm import transport as hsm_transport
from vault.hsm.software import spki_fingerprint
from vault.operations._common import ACTOR, pem_to_der, refuse_existing
from vault.operations.keys import DESTROYED_STATES, generate_key, resolve_key, token_key
from vault.operations.signing import _write_once, sign_payload, verify_payload
from vault.store.records import BackupDecision
from vault.types import KeyAlgorithm, KeyPurpose, KeyState

if TYPE_CHECKING:
    from vault.vault import Vault

REQUEST_TYPE = "custodian-console/import-request"
TRANSPORT_TYPE = "custodian-console/transport"
VAULT_NAME_SETTING = "vault.name"


def vault_name(vault: Vault) -> str:
    """How this vault is named in the files it signs (its peers pin it under that name)."""
    name = vault.store.get_setting(VAULT_NAME_SETTING)
    if not name:
        name = f"vault-{vault.store.get_setting('token.serial') or 'unnamed'}"
    return name


def _canonical(obj: dict) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _signed_file(vault: Vault, session, body: dict, signer_ref: str, out: Path, *, ceremony_id, actor) -> str:
    out = Path(out)
    sig = out.with_name(out.name + ".sig")
    refuse_existing(out)
    refuse_existing(sig)
    data = _canonical(body)
    _write_once(out, data)
    try:
        sign_payload(vault, session, signer_ref, out, sig, ceremony_id=ceremony_id, actor=actor)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def _read_signed(path: Path, expected_type: str) -> tuple[dict, bytes, bytes]:
    path = Path(path)
    sig = path.with_name(path.name + ".sig")
    try:
        data, signature = read_bounded(path, TRANSPORT_FILE_BYTES), read_bounded(sig, SIGNATURE_BYTES)
        body = json.loads(data)
    except (OSError, ValueError):
        raise TransportRefused(f"{path} (and its signature {sig.name}) cannot be read as a {expected_type} file.",
                               next_step="Give the file and its .sig beside it, as written.") from None
    if not isinstance(body, dict) or body.get("type") != expected_type or body.get("format") != 1:
        raise TransportRefused(f"{path} is not a {expected_type} file of format 1.")
    return body, data, signature


def _verify_from_peer(vault: Vault, body: dict, data: bytes, signature: bytes, who: str) -> str:
    """The file is signed by the pinned key of the vault it names; returns that vault's name."""
    name = str(body.get(who, ""))
    try:
        peer = vault.store.peer(name)
    except RecordNotFound:
        raise TransportRefused(f"The file comes from vault {name!r}, which this vault has not pinned.",
                               next_step="Pin the peer's signing key (pin-vault ceremony) after checking its "
                                         "fingerprint with its custodians.") from None
    signer = body.get("signer", {})
    if signer.get("fingerprint") != peer.signer_fingerprint:
        raise TransportRefused(f"The file names signing key {signer.get('fingerprint')}; vault {name!r} is pinned "
                               f"with {peer.signer_fingerprint}.")
    try:
        verify_payload(peer.public_key_pem, data, signature)
    except SignatureInvalid:
        raise TransportRefused(f"The signature does not verify with vault {name!r}'s pinned key: the file was "
                               "changed or is not from it.") from None
    return name


# --- pinning -------------------------------------------------------------------------------------
def pin_peer(vault: Vault, name: str, public_key_pem: str, *, ceremony_id=None, actor=ACTOR):
    from vault.keynames import check_name

    check_name(name)
    try:
        der = pem_to_der(public_key_pem)
        serialization.load_der_public_key(der)
    except (ValueError, VaultError):
        raise TransportRefused("The peer's public key is not a PEM SubjectPublicKeyInfo.") from None
    fingerprint = spki_fingerprint(der)
    with vault.store.atomic():
        peer = vault.store.pin_peer(name, fingerprint, public_key_pem, ceremony_id=ceremony_id)
        vault.ledger.append("peer.pinned", {"peer": name, "fingerprint": fingerprint},
                            actor=actor, ceremony_id=ceremony_id)
    return peer


# --- receiver: the request ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequestResult:
    path: str
    request_id: str
    transport_key: str
    fingerprint: str
    sha256: str


def make_import_request(vault: Vault, session, signer_ref: str, out: Path, *, transport_name: str = "transport",
                        ceremony_id=None, actor=ACTOR) -> RequestResult:
    refuse_existing(Path(out))
    try:
        key = resolve_key(vault, transport_name)
        if key.purpose is not KeyPurpose.TRANSPORT or key.state is not KeyState.ACTIVE:
            raise TransportRefused(f"{key.ref} is not an active transport key.",
                                   next_step="Name a new transport key.")
    except VaultError as exc:
        if isinstance(exc, TransportRefused):
            raise
        key = generate_key(vault, session, transport_name, KeyAlgorithm.RSA_3072, purpose=KeyPurpose.TRANSPORT,
                           backup=False, no_backup_reason="a transport key only receives keys; it never leaves "
                           "this HSM", ceremony_id=ceremony_id, actor=actor)
    pem = session.public_key_pem(token_key(session, key))
    request_id = secrets.token_hex(16)
    signer = resolve_key(vault, signer_ref)
    body = {"type": REQUEST_TYPE, "format": 1, "request_id": request_id, "vault": vault_name(vault),
            "created_at": vault.store.now(),
            "transport_key": {"key": key.ref, "algorithm": key.algorithm.value, "fingerprint": key.fingerprint,
                              "public_key_pem": pem},
            "signer": {"key": signer.ref, "fingerprint": signer.fingerprint}}
    sha = _signed_file(vault, session, body, signer.ref, Path(out), ceremony_id=ceremony_id, actor=actor)
    with vault.store.atomic():
        vault.store.add_import_request(request_id, key.id, ceremony_id=ceremony_id)
        vault.ledger.append("transport.requested", {"request_id": request_id, "transport_key": key.ref,
                                                    "fingerprint": key.fingerprint, "path": str(Path(out).resolve()),
                                                    "sha256": sha}, actor=actor, ceremony_id=ceremony_id)
    return RequestResult(str(Path(out).resolve()), request_id, key.ref, key.fingerprint, sha)


def read_request(vault: Vault, path: Path) -> dict:
    """A request verified against its vault's pinned key, with a usable transport key; raises otherwise."""
    body, data, signature = _read_signed(Path(path), REQUEST_TYPE)
    _verify_from_peer(vault, body, data, signature, "vault")
    tk = body.get("transport_key", {})
    try:
        der = pem_to_der(tk["public_key_pem"])
        public = serialization.load_der_public_key(der)
    except (KeyError, ValueError, VaultError):
        raise TransportRefused("The request's transport key is not a public key.") from None
    if spki_fingerprint(der) != tk.get("fingerprint"):
        raise TransportRefused("The request's transport key does not match its fingerprint.")
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 3072:
        raise TransportRefused("The request's transport key is not RSA-3072 or larger.")
    return body


# --- sender ----------------------------------------------------------------------------------------
def transport_wrap_method(vault: Vault, session) -> str:
    """The token's HSM profile's ``transport_wrap`` (custodian.toml may override it)."""
    from vault.hsm.profile import profile_for

    config = vault.home.config
    return profile_for(session.token, name=config.profile, overrides=dict(config.profile_override)).transport_wrap


@dataclass(frozen=True, slots=True)
class TransportResult:
    path: str
    transfer_id: str
    key: str
    fingerprint: str
    sha256: str


def send_key(vault: Vault, session, request_path: Path, key_ref: str, signer_ref: str, out: Path, *,
             ceremony_id=None, actor=ACTOR, quorum=None) -> TransportResult:
    """``quorum``: needed where the session has trusted wrapping (the SO makes the ephemeral key)."""
    refuse_existing(Path(out))
    method = transport_wrap_method(vault, session)
    hsm_transport.check_transport_wrap(session, method)  # before anything is made
    request = read_request(vault, request_path)
    key = resolve_key(vault, key_ref)
    if key.state is not KeyState.ACTIVE:
        raise TransportRefused(f"{key.ref} is {key.state.value}; only an active key is sent.")
    if key.backup is not BackupDecision.BACKED_UP:
        raise TransportRefused(f"{key.ref} was generated never to leave this HSM (no backup).")
    if key.purpose is KeyPurpose.TRANSPORT:
        raise TransportRefused("A transport key is never sent.")
    public = serialization.load_pem_public_key(request["transport_key"]["public_key_pem"].encode()).public_numbers()
    obj = token_key(session, key)
    if session.trusted_wrapping:
        if quorum is None:
            raise TransportRefused("This token wraps backed-up keys only under a key its security officer made "
                                   "trusted; sending one needs the quorum.", next_step="Send it in the transport "
                                   "ceremony, with the quorum present.")  # fmt: skip
        with quorum.so_pin() as so_pin, quorum.user_pin() as user_pin:
            oaep, wrapped_ephemeral, wrapped_key = hsm_transport.wrap_for_transport(
                session, obj, public.n, public.e, pins=(so_pin, user_pin))
    else:
        oaep, wrapped_ephemeral, wrapped_key = hsm_transport.wrap_for_transport(session, obj, public.n, public.e)
    public_pem = session.public_key_pem(obj) if key.algorithm.is_key_pair else None
    signer = resolve_key(vault, signer_ref)
    transfer_id = secrets.token_hex(16)
    body = {"type": TRANSPORT_TYPE, "format": 1, "transfer_id": transfer_id, "request_id": request["request_id"],
            "from": vault_name(vault), "to": request["vault"], "created_at": vault.store.now(),
            "key": {"name": key.name, "version": key.version, "algorithm": key.algorithm.value,
                    "purpose": key.purpose.value, "fingerprint": key.fingerprint, "cka_id": key.cka_id,
                    "cryptoperiod_days": key.cryptoperiod_days, "expires_at": key.expires_at,
                    "public_key_pem": public_pem},
            "wrapping": {"transport_key_fingerprint": request["transport_key"]["fingerprint"],
                         "method": method, "ephemeral": "AES-256", "oaep_hash": oaep,
                         "wrapped_ephemeral": base64.b64encode(wrapped_ephemeral).decode(),
                         "key_wrap": session.wrap_mechanism.name,
                         "wrapped_key": base64.b64encode(wrapped_key).decode(),
                         "rsa_aes_key_wrap_offered": hsm_transport.offers_rsa_aes_key_wrap(session)},
            "signer": {"key": signer.ref, "fingerprint": signer.fingerprint}}
    sha = _signed_file(vault, session, body, signer.ref, Path(out), ceremony_id=ceremony_id, actor=actor)
    vault.ledger.append("key.transported", {"key": key.ref, "fingerprint": key.fingerprint, "to": request["vault"],
                                            "request_id": request["request_id"], "transfer_id": transfer_id,
                                            "path": str(Path(out).resolve()), "sha256": sha},
                        actor=actor, ceremony_id=ceremony_id)
    return TransportResult(str(Path(out).resolve()), transfer_id, key.ref, key.fingerprint, sha)


# --- receiver: the import ----------------------------------------------------------------------------
#: Both numbers the console uses for RFC 5649 (vault.hsm.model.WrapMechanism; the profile says which
#: one a token implements it under): the wrapped bytes are the same whichever the sender's token used.
RFC_5649_NAMES = {"AES_KEY_WRAP_PAD", "AES_KEY_WRAP_KWP"}


def wrapped_parts(wrapping: dict, session, transport_obj) -> tuple[bytes, bytes]:
    """(OAEP-wrapped ephemeral key, RFC 5649-wrapped key) from either layout of ``wrapping``:
    ``oaep-then-kwp`` (no ``method``: files written before the field) keeps them apart,
    ``rsa-aes-key-wrap`` has CKM_RSA_AES_KEY_WRAP's one blob, split at the transport key's length."""
    method = wrapping.get("method", "oaep-then-kwp")
    try:
        if method == "oaep-then-kwp":
            return (base64.b64decode(wrapping["wrapped_ephemeral"], validate=True),
                    base64.b64decode(wrapping["wrapped_key"], validate=True))
        if method == "rsa-aes-key-wrap":
            blob = base64.b64decode(wrapping["wrapped"], validate=True)
        else:
            raise TransportRefused(f"The file is wrapped with method {method!r}, which the console does not know.",
                                   next_step="Ask the sender for a file wrapped with oaep-then-kwp or "
                                   "rsa-aes-key-wrap.")
    except (KeyError, ValueError):
        raise TransportRefused(f"The file's wrapping ({method}) lacks its wrapped key or is not base64.") from None
    modulus = serialization.load_pem_public_key(session.public_key_pem(transport_obj).encode()).key_size
    return hsm_transport.split_rsa_aes_blob(blob, (modulus + 7) // 8)


def read_transport(vault: Vault, path: Path) -> tuple[dict, str]:
    body, data, signature = _read_signed(Path(path), TRANSPORT_TYPE)
    sender = _verify_from_peer(vault, body, data, signature, "from")
    if body.get("to") != vault_name(vault):
        raise TransportRefused(f"The file is addressed to vault {body.get('to')!r}, not to this one "
                               f"({vault_name(vault)!r}).")
    return body, hashlib.sha256(data).hexdigest()


def receive_key(vault: Vault, session, path: Path, *, ceremony_id=None, actor=ACTOR):
    body, sha = read_transport(vault, path)
    if vault.store.imported(body["transfer_id"]) is not None:
        raise TransportRefused(f"Transfer {body['transfer_id']} was already imported: a transport file imports "
                               "once.", next_step="Ask the sender for a new transport if the key is missing.")
    try:
        _, transport_key_id, _ = vault.store.import_request(body["request_id"])
    except RecordNotFound:
        raise TransportRefused(f"The file answers request {body['request_id']}, which this vault did not make.") from None
    transport_key = vault.store.get_key(transport_key_id)
    if transport_key.state is not KeyState.ACTIVE or \
            body["wrapping"]["transport_key_fingerprint"] != transport_key.fingerprint:
        raise TransportRefused(f"The file is wrapped for another transport key than {transport_key.ref}.")
    key_wrap = body["wrapping"].get("key_wrap")
    if key_wrap != session.wrap_mechanism.name and not {key_wrap, session.wrap_mechanism.name} <= RFC_5649_NAMES:
        raise TransportRefused(f"The key is wrapped with {key_wrap}; this vault uses {session.wrap_mechanism.name}.")
    meta = body["key"]
    algorithm, purpose = KeyAlgorithm(meta["algorithm"]), KeyPurpose(meta["purpose"])
    name = meta["name"]
    from vault.keynames import check_name, token_label

    check_name(name)
    if vault.store.key_versions(name):
        raise LabelExists(f"This vault already has a key named {name!r}; nothing was imported.")
    label = token_label(name, int(meta["version"]))
    try:
        session.get_key(label)
        raise LabelExists(f"The token already has an object labelled {label!r}; nothing was imported.")
    except VaultError as exc:
        if isinstance(exc, LabelExists):
            raise
    public_der = pem_to_der(meta["public_key_pem"]) if algorithm.is_key_pair else None
    if public_der is not None and spki_fingerprint(public_der) != meta["fingerprint"]:
        raise TransportRefused("The sent public key does not match the sent fingerprint.")
    wanted = KeyObject(label, meta["cka_id"], algorithm, meta["fingerprint"], True, True, algorithm.is_key_pair,
                       purpose)
    wrapped_ephemeral, wrapped_key = wrapped_parts(body["wrapping"], session, token_key(session, transport_key))
    made = hsm_transport.unwrap_transported(
        session, token_key(session, transport_key), body["wrapping"]["oaep_hash"], wrapped_ephemeral, wrapped_key,
        wanted, public_der)
    try:
        with vault.store.atomic():
            record = vault.store.add_key(label, cka_id=meta["cka_id"], algorithm=algorithm,
                                         fingerprint=meta["fingerprint"], token_serial=session.token.serial,
                                         actor=actor, ceremony_id=ceremony_id, state=KeyState.ACTIVE,
                                         lineage=name, version=int(meta["version"]), purpose=purpose,
                                         cryptoperiod_days=meta.get("cryptoperiod_days"),
                                         reason=f"imported from vault {body['from']} (transfer {body['transfer_id']})")
            vault.store.record_import(body["transfer_id"], body["request_id"], record.id, body["from"], sha,
                                      ceremony_id=ceremony_id)
            vault.ledger.append("key.imported", {"key": record.ref, "fingerprint": record.fingerprint,
                                                 "from": body["from"], "transfer_id": body["transfer_id"],
                                                 "request_id": body["request_id"], "transport_sha256": sha,
                                                 "sent_at": body["created_at"]}, actor=actor, ceremony_id=ceremony_id)
    except BaseException:
        session.destroy(made)
        raise
    return record
