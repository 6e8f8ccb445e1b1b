"""Transport step kinds: pin a peer vault, make an import request (receiver), send a key
(sender), import it (receiver). Each calls vault.operations.transport; every fingerprint a
person must compare is read aloud as hex and PGP words."""

from __future__ import annotations

from pathlib import Path

from vault.ceremony.kinds import step_kind
from vault.ceremony.review import fingerprint_item, item
from vault.ceremony.prompts import ConfirmAnswer, ConfirmPrompt, PathPrompt, PathPurpose, TextAnswer, TextPrompt
from vault.ceremony.steps.keys import _input_path, _key_choice, _label, _output_path, _session
from vault.errors import AnswerInvalid
from vault.inputs import PUBLIC_KEY_BYTES, read_bounded
from vault.operations.export import fingerprint_words
from vault.types import KeyPurpose, KeyState


def _aloud(ctx, title: str, fingerprint: str) -> None:
    ctx.read_aloud(title, f"{fingerprint} ({fingerprint_words(fingerprint)})")


def _confirmed(a: ConfirmAnswer) -> bool:
    if not a.yes:
        raise AnswerInvalid("The fingerprint was not confirmed aloud; nothing was done.",
                            next_step="Compare it with the other vault's custodians, or abort.")
    return True


@step_kind("pin-peer", repeatable=False, review="the peer's name and its signing key's fingerprint")
def pin_peer(ctx, params):
    """Name this vault, and pin another vault's signing key after its fingerprint was confirmed aloud."""
    from cryptography.hazmat.primitives import serialization

    from vault.hsm.software import spki_fingerprint
    from vault.operations._common import pem_to_der
    from vault.operations.transport import VAULT_NAME_SETTING, pin_peer as op_pin

    own = yield from ctx.ask(TextPrompt, "own-name", lambda a: _label(a.text),
                             question="This vault's name, as its peers pin it")
    current = ctx.vault.store.get_setting(VAULT_NAME_SETTING)
    if current and current != own:
        raise AnswerInvalid(f"This vault is already named {current!r}.", next_step=f"Answer {current!r}.")
    peer = yield from ctx.ask(TextPrompt, "peer", lambda a: _label(a.text), question="The peer vault's name")

    def read_key(a: TextAnswer) -> str:
        path = _input_path(a)
        try:
            text = read_bounded(path, PUBLIC_KEY_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:
            raise AnswerInvalid(f"{path} cannot be read ({exc.strerror or exc}).",
                                next_step="Give the peer's exported signing key.") from None
        try:
            serialization.load_der_public_key(pem_to_der(text))
        except Exception:  # noqa: BLE001 - any unreadable key is answered the same way
            raise AnswerInvalid(f"{path} is not a PEM public key.", next_step="Give the peer's exported signing key.")
        return text

    pem = yield from ctx.ask(PathPrompt, "public-key", read_key, question="The peer's exported signing key (PEM)",
                             purpose=PathPurpose.INPUT_FILE)
    fingerprint = spki_fingerprint(pem_to_der(pem))
    _aloud(ctx, f"Signing key of {peer}", fingerprint)
    yield from ctx.ask(ConfirmPrompt, "confirm", _confirmed,
                       question=f"Did {peer}'s custodians read the same fingerprint ({fingerprint[:23]}…)?")
    yield from ctx.review("pin-peer", f"Pin {peer}'s signing key (its files are then trusted)", [
        item("This vault", own), item("Peer vault", peer), fingerprint_item("Peer's signing key", fingerprint)])
    if not current:
        ctx.vault.store.set_setting(VAULT_NAME_SETTING, own)
    record = op_pin(ctx.vault, peer, pem, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"peer": record.name, "fingerprint": record.signer_fingerprint, "own_name": own,
            "summary": f"{record.name} pinned ({record.signer_fingerprint})"}


@step_kind("import-request", needs_quorum=True, repeatable=False,
           review="the transport key to be generated, the request's signer and path")
def import_request(ctx, params):
    """Receiver: a transport key in this HSM (RSA-3072, purpose transport) and a signed import request."""
    from vault.operations.transport import make_import_request

    signer = yield from _key_choice(ctx, "signer", "Which active signing key signs the request?", (KeyState.ACTIVE,),
                                    signing=True, purposes=(KeyPurpose.SIGN,))
    out = yield from ctx.ask(PathPrompt, "request", _output_path, question="Write the import request to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    yield from ctx.review("import-request", "Generate (or reuse) the transport key in the HSM and sign a request", [
        item("Transport key", "transport (RSA-3072, purpose transport, never leaves this HSM)"),
        item("Signed by", f"{signer.ref} ({signer.fingerprint})"), item("Request", str(out))])
    with _session(ctx) as session:
        ctx.progress("Generating the transport key in the HSM (RSA-3072) and signing the request")
        result = make_import_request(ctx.vault, session, signer.ref, out, ceremony_id=ctx.ceremony_id,
                                     actor=ctx.actor)
    _aloud(ctx, f"Transport key {result.transport_key}", result.fingerprint)
    return {"request": result.path, "request_id": result.request_id, "transport_key": result.transport_key,
            "fingerprint": result.fingerprint, "summary": f"import request {result.request_id} written to {result.path}"}


@step_kind("transport-key", needs_quorum=True, repeatable=False,
           review="the receiver, its transport key's fingerprint, the key sent and its fingerprint, the signer")
def transport_key(ctx, params):
    """Sender: check the request against the pinned receiver, confirm its transport key aloud, wrap
    the chosen key to it in the HSM, and write the signed transport file."""
    from vault.operations.transport import read_request, send_key

    request_path = yield from ctx.ask(PathPrompt, "request", _input_path, question="The receiver's import request",
                                      purpose=PathPurpose.INPUT_FILE)
    request = read_request(ctx.vault, request_path)
    _aloud(ctx, f"Transport key of {request['vault']}", request["transport_key"]["fingerprint"])
    yield from ctx.ask(ConfirmPrompt, "confirm-fingerprint", _confirmed,
                       question=f"Did {request['vault']}'s custodians read the same transport key fingerprint?")
    key = yield from _key_choice(ctx, "key", "Which key is sent?", (KeyState.ACTIVE,))
    signer = yield from _key_choice(ctx, "signer", "Which active signing key signs the transport file?",
                                    (KeyState.ACTIVE,), signing=True, purposes=(KeyPurpose.SIGN,))
    out = yield from ctx.ask(PathPrompt, "output", _output_path, question="Write the transport file to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    yield from ctx.review("transport-key", f"Wrap {key.ref} for {request['vault']} (it leaves this HSM, wrapped)", [
        item("Receiver", request["vault"]),
        fingerprint_item("Receiver's transport key", request["transport_key"]["fingerprint"]),
        item("Key sent", f"{key.ref} ({key.algorithm.value}, {key.purpose.value})"),
        fingerprint_item("Its fingerprint", key.fingerprint), item("Signed by", signer.ref), item("File", str(out))])
    with _session(ctx) as session:
        result = send_key(ctx.vault, session, request_path, key.ref, signer.ref, out, ceremony_id=ctx.ceremony_id,
                          actor=ctx.actor, quorum=ctx.secrets.quorum)
    _aloud(ctx, f"Fingerprint of {result.key}", result.fingerprint)
    return {"transport": result.path, "transfer_id": result.transfer_id, "key": result.key,
            "fingerprint": result.fingerprint, "summary": f"{result.key} wrapped for {request['vault']} into {result.path}"}


@step_kind("import-key", needs_quorum=True, repeatable=False,
           review="the sender, the key's name, version, algorithm, purpose and fingerprint")
def import_key(ctx, params):
    """Receiver: verify the sender against its pinned key, unwrap into this HSM, check the fingerprint."""
    from vault.operations.transport import read_transport, receive_key

    path = yield from ctx.ask(PathPrompt, "transport", _input_path, question="The transport file",
                              purpose=PathPurpose.INPUT_FILE)
    body, _ = read_transport(ctx.vault, path)
    _aloud(ctx, f"Fingerprint sent by {body['from']}", body["key"]["fingerprint"])
    yield from ctx.ask(ConfirmPrompt, "confirm-fingerprint", _confirmed,
                       question=f"Did {body['from']}'s custodians read the same fingerprint?")
    yield from ctx.review("import-key", f"Unwrap {body['key']['name']}@{body['key']['version']} from "
                          f"{body['from']} into this HSM", [
        item("Sender", body["from"]), item("Key", f"{body['key']['name']}@{body['key']['version']} "
                                                  f"({body['key']['algorithm']}, {body['key']['purpose']})"),
        fingerprint_item("Fingerprint", body["key"]["fingerprint"]), item("Transfer", body["transfer_id"])])
    with _session(ctx) as session:
        record = receive_key(ctx.vault, session, Path(path), ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    _aloud(ctx, f"Fingerprint of {record.ref} in this HSM", record.fingerprint)
    return {"imported": record.ref, "fingerprint": record.fingerprint, "from": body["from"],
            "summary": f"{record.ref} imported from {body['from']} ({record.fingerprint})"}
