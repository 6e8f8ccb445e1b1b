"""A signed revocation statement: what was revoked, why (KMIP reason), when, and by which ledger
event; signed in the HSM by an active signing key and verified in software before it is written.

Two files, each written once: the statement (canonical JSON, the signed bytes) and its detached
signature (the console's signature formats), so that ``custodian verify`` or openssl check it
with the signer's exported public key.

The ledger event ``key.revocation_statement`` keeps the statement, its signature (base64) and
the signer's public key (PEM), so the signed statement can be exported again at any time
without the HSM or a quorum (``custodian keys revocation``, ``export_revocation_statement``):
before it is written, the statement's SHA-256 must be the one recorded, the signer's public key
must have the fingerprint the vault records for the signing key, and the signature must verify.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import ExportRefused, SignatureInvalid, TransitionRefused
from vault.operations._common import ACTOR
from vault.operations.keys import resolve_key
from vault.operations.signing import _write_once, sign_payload

if TYPE_CHECKING:
    from vault.vault import Vault

STATEMENT_TYPE = "custodian-console/revocation-statement"


@dataclass(frozen=True, slots=True)
class RevocationStatement:
    path: str
    signature_path: str
    sha256: str
    signer: str  # NAME@VERSION
    statement: dict


def statement_for(vault: Vault, ref: str) -> dict:
    key = resolve_key(vault, ref)
    if key.revocation_reason is None:
        raise TransitionRefused(f"Key {key.ref} has not been revoked.", next_step="Revoke it first.")
    event = next((e for e in reversed(list(vault.ledger.events()))
                  if e.action == "key.revoked" and e.details.get("key") == key.ref), None)
    return {
        "type": STATEMENT_TYPE,
        "format": 1,
        "key": {"name": key.name, "version": key.version, "label": key.label, "algorithm": key.algorithm.value,
                "fingerprint": key.fingerprint, "token_serial": key.token_serial},
        "state": key.state.value,
        "revocation_reason": key.revocation_reason.value,
        "kmip_reason_code": key.revocation_reason.kmip_code,
        "revoked_at": key.entered_at(key.state),
        "ledger_event": None if event is None else {"seq": event.seq, "hash": event.hash},
    }


def write_revocation_statement(vault: Vault, session, ref: str, signer_ref: str, out: Path, *,
                               ceremony_id: str | None = None, actor: str = ACTOR) -> RevocationStatement:
    """Write the statement for revoked key ``ref`` to ``out`` and its signature to ``out`` + ``.sig``."""
    statement = statement_for(vault, ref)
    signer = resolve_key(vault, signer_ref)
    statement["signer"] = {"key": signer.ref, "fingerprint": signer.fingerprint}
    data = statement_bytes(statement)
    out = Path(out)
    sig = out.with_name(out.name + ".sig")
    from vault.operations._common import refuse_existing

    refuse_existing(sig)  # both paths free before either is written
    _write_once(out, data)
    try:
        sign_payload(vault, session, signer.ref, out, sig, ceremony_id=ceremony_id, actor=actor)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    from vault.operations.export import public_spki

    signer_pem = _pem(public_spki(vault, signer, session))
    vault.ledger.append("key.revocation_statement", {
        "key": statement["key"]["name"] + "@" + str(statement["key"]["version"]), "signer": signer.ref,
        "path": str(out.resolve()), "sha256": hashlib.sha256(data).hexdigest(), "signature": str(sig.resolve()),
        "statement": statement, "signature_b64": base64.b64encode(sig.read_bytes()).decode("ascii"),
        "signer_public_pem": signer_pem,
    }, actor=actor, ceremony_id=ceremony_id)
    return RevocationStatement(str(out.resolve()), str(sig.resolve()), hashlib.sha256(data).hexdigest(),
                               signer.ref, statement)


def _pem(spki_der: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_public_key(spki_der)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def statement_bytes(statement: dict) -> bytes:
    """The signed bytes: canonical JSON (sorted keys, no spaces) and a newline."""
    return (json.dumps(statement, sort_keys=True, separators=(",", ":")) + "\n").encode()


def checked_statement(vault: Vault, details: dict) -> tuple[bytes, bytes]:
    """The statement's bytes and signature from a ``key.revocation_statement`` event, once the
    recorded digest, the signer's key and the signature are all shown to hold."""
    from vault.hsm.software import spki_fingerprint
    from vault.operations.signing import verify_payload

    from cryptography.hazmat.primitives import serialization

    if "statement" not in details:
        raise ExportRefused(f"The revocation statement of {details['key']} was written before statements were kept "
                            "in the ledger; only its files hold it.",
                            next_step=f"Use the files written then: {details['path']} and {details['signature']}.")
    data = statement_bytes(details["statement"])
    if hashlib.sha256(data).hexdigest() != details["sha256"]:
        raise SignatureInvalid(f"The recorded revocation statement of {details['key']} is not the one signed "
                               "(its SHA-256 differs); nothing was written.", next_step="Run `custodian ledger verify`.")
    pem = details["signer_public_pem"]
    spki = serialization.load_pem_public_key(pem.encode("ascii")).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signer = resolve_key(vault, details["signer"])
    if spki_fingerprint(spki) != signer.fingerprint or details["statement"]["signer"]["fingerprint"] != signer.fingerprint:
        raise SignatureInvalid(f"The revocation statement of {details['key']} names a signing key that is not "
                               f"{signer.ref} of this vault; nothing was written.", next_step="Run `custodian ledger verify`.")
    signature = base64.b64decode(details["signature_b64"], validate=True)
    verify_payload(pem, data, signature)  # SignatureInvalid if it does not verify
    return data, signature


def export_revocation_statement(vault: Vault, ref: str, out: Path, *, actor: str = ACTOR) -> RevocationStatement:
    """Write the newest signed revocation statement of revoked key ``ref`` again (``out`` and
    ``out`` + ``.sig``, each written once), checked first (checked_statement)."""
    from vault.operations._common import refuse_existing
    from vault.operations.signing import _write_once as write_once

    key = resolve_key(vault, ref)
    event = next((e for e in reversed(list(vault.ledger.events()))
                  if e.action == "key.revocation_statement" and e.details.get("key") == key.ref), None)
    if event is None:
        raise ExportRefused(f"No signed revocation statement was made for {key.ref}.",
                            next_step="A revoke ceremony with a statement signer makes one.")
    data, signature = checked_statement(vault, event.details)
    out = Path(out)
    sig = out.with_name(out.name + ".sig")
    refuse_existing(out)
    refuse_existing(sig)  # both paths free before either is written
    write_once(out, data)
    try:
        write_once(sig, signature)
        vault.ledger.append("key.revocation_statement_exported", {
            "key": key.ref, "signer": event.details["signer"], "statement_event": event.seq,
            "path": str(out.resolve()), "sha256": event.details["sha256"], "signature": str(sig.resolve()),
        }, actor=actor)
    except BaseException:
        out.unlink(missing_ok=True)
        sig.unlink(missing_ok=True)
        raise
    return RevocationStatement(str(out.resolve()), str(sig.resolve()), event.details["sha256"],
                               event.details["signer"], event.details["statement"])
