"""Envelope step kinds: encrypt, decrypt and rewrap files in the HSM, raise the minimum
decryption version (vault.operations.envelope)."""

from __future__ import annotations

from vault.ceremony.kinds import step_kind
from vault.ceremony.review import item
from vault.ceremony.prompts import PathPrompt, PathPurpose, TextAnswer, TextPrompt
from vault.ceremony.steps.keys import _key_choice, _payload_path, _output_path, _session
from vault.errors import AnswerInvalid
from vault.types import KeyPurpose, KeyState


@step_kind("encrypt", needs_quorum=True, repeatable=True)
def encrypt(ctx, params):
    """Encrypt a file under the newest active version of a wrap key (a new data key from the HSM)."""
    from vault.operations.envelope import encrypt_file

    key = yield from _key_choice(ctx, "key", "Encrypt under which key?", (KeyState.ACTIVE,),
                                 purposes=(KeyPurpose.WRAP,))
    src = yield from ctx.ask(PathPrompt, "input", _payload_path, question="File to encrypt",
                             purpose=PathPurpose.INPUT_FILE)
    dst = yield from ctx.ask(PathPrompt, "output", _output_path, question="Write the encrypted file to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        ctx.progress(f"Encrypting {src.name} under {key.ref} in the HSM")
        result = encrypt_file(ctx.vault, session, key.ref, src, dst, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"key": result.key, "output": result.path, "output_sha256": result.sha256,
            "summary": f"{src.name} encrypted under {result.key} into {result.path}"}


@step_kind("decrypt", needs_quorum=True, repeatable=True)
def decrypt(ctx, params):
    """Decrypt a file with the key version its header names (if that version may still decrypt)."""
    from vault.operations.envelope import decrypt_file

    src = yield from ctx.ask(PathPrompt, "input", _payload_path, question="Encrypted file", purpose=PathPurpose.INPUT_FILE)
    dst = yield from ctx.ask(PathPrompt, "output", _output_path, question="Write the plaintext to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        result = decrypt_file(ctx.vault, session, src, dst, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"key": result.key, "output": result.path, "summary": f"{src.name} decrypted with {result.key}"}


@step_kind("rewrap", needs_quorum=True, repeatable=True)
def rewrap(ctx, params):
    """Re-protect an encrypted file under the newest active version of its key, in the HSM."""
    from vault.operations.envelope import rewrap_file

    src = yield from ctx.ask(PathPrompt, "input", _payload_path, question="Encrypted file", purpose=PathPurpose.INPUT_FILE)
    dst = yield from ctx.ask(PathPrompt, "output", _output_path, question="Write the rewrapped file to (a new file)",
                             purpose=PathPurpose.OUTPUT_FILE)
    with _session(ctx) as session:
        result = rewrap_file(ctx.vault, session, src, dst, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"key": result.key, "output": result.path, "summary": f"{src.name} rewrapped under {result.key}"}


@step_kind("min-decryption-version", repeatable=False,
           review="the key, its current and new minimum decryption version, and the versions that stop decrypting")
def min_decryption_version(ctx, params):
    """Raise a key's minimum decryption version: older versions stop decrypting (never lowered)."""
    from vault.operations.envelope import raise_min_decryption_version

    key = yield from _key_choice(ctx, "key", "Which key's minimum decryption version is raised?",
                                 (KeyState.ACTIVE,), purposes=(KeyPurpose.WRAP, KeyPurpose.ENCRYPT))

    def version(a: TextAnswer) -> int:
        if not a.text.strip().isdigit():
            raise AnswerInvalid(f"{a.text!r} is not a version number.", next_step="Type a version, e.g. 2.")
        return int(a.text.strip())

    target = yield from ctx.ask(TextPrompt, "version", version,
                                question=f"Minimum version of {key.name} that may still decrypt (1..{key.version})")
    current = ctx.vault.store.get_key_name(key.name).min_decryption_version
    yield from ctx.review("min-decryption-version", f"Raise {key.name}'s minimum decryption version to {target} "
                          "(never lowered again)", [
        item("Key", key.name), item("Minimum now", str(current)), item("Minimum after", str(target)),
        item("Stop decrypting", ", ".join(f"{key.name}@{v}" for v in range(current, target)) or "none")])
    record = raise_min_decryption_version(ctx.vault, key.name, target, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    return {"name": record.name, "min_decryption_version": record.min_decryption_version,
            "summary": f"{record.name}: versions below {record.min_decryption_version} no longer decrypt"}
