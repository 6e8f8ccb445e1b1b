"""A signed revocation statement: what was revoked, why (KMIP reason), when, and by which ledger
event; signed in the HSM by an active signing key and verified in software before it is written.

Two files, each written once: the statement (canonical JSON, the signed bytes) and its detached
signature (the console's signature formats), so that ``custodian verify`` or openssl check it
with the signer's exported public key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import TransitionRefused
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
    data = (json.dumps(statement, sort_keys=True, separators=(",", ":")) + "\n").encode()
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
    vault.ledger.append("key.revocation_statement", {
        "key": statement["key"]["name"] + "@" + str(statement["key"]["version"]), "signer": signer.ref,
        "path": str(out.resolve()), "sha256": hashlib.sha256(data).hexdigest(), "signature": str(sig.resolve()),
    }, actor=actor, ceremony_id=ceremony_id)
    return RevocationStatement(str(out.resolve()), str(sig.resolve()), hashlib.sha256(data).hexdigest(),
                               signer.ref, statement)
