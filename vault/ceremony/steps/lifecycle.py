"""Lifecycle step kinds: plan a key (pre-activation), activate, suspend, reactivate, deactivate,
revoke (KMIP reason, signed statement). Each calls vault.operations.lifecycle; destruction of a
key in any live state is the destroy-key step (vault.ceremony.steps.keys)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.review import fingerprint_item, item
from vault.ceremony.prompts import Choice, ChoicePrompt, PathPrompt, PathPurpose, TextAnswer, TextPrompt
from vault.ceremony.steps.keys import _key_choice, _output_path, _session, _why, fingerprint_words
from vault.errors import AnswerInvalid
from vault.store.clock import iso
from vault.types import KeyAlgorithm, KeyPurpose, KeyState, RevocationReason

_LIVE = (KeyState.PRE_ACTIVATION, KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.DEACTIVATED)


def _date(a: TextAnswer) -> str:
    """An activation date: YYYY-MM-DD (midnight UTC) or a full ISO 8601 time with a zone."""
    text = a.text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None:
        raise AnswerInvalid(f"{text!r} is not a date.", next_step="Type YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC).")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso(moment)


def _days(a: TextAnswer) -> int | None:
    text = a.text.strip()
    if text in ("", "default"):
        return None
    if not text.isdigit() or not 1 <= int(text) <= 36500:
        raise AnswerInvalid(f"{text!r} is not a number of days.", next_step="Type 1 to 36500, or 'default'.")
    return int(text)


@step_kind("plan-key", needs_quorum=True, repeatable=False,
           review="the name, algorithm, purpose, activation date and cryptoperiod, and the token")
def plan_key(ctx, params):
    """Generate version 1 of a named key in pre-activation: purpose, activation date, cryptoperiod."""
    from vault.ceremony.steps.keys import _algorithm, _key_name
    from vault.cryptoperiods import cryptoperiod_days
    from vault.operations.keys import generate_key, preflight_generate

    name = yield from ctx.ask(TextPrompt, "name", lambda a: _key_name(a.text), question="Name of the new key")
    algorithms = list(KeyAlgorithm)
    algorithm = yield from ctx.ask(ChoicePrompt, "algorithm", lambda a: _algorithm(a.value, algorithms),
                                   question="Algorithm", choices=tuple(Choice(a.value, a.value) for a in algorithms))
    fits = [p for p in KeyPurpose if p.allows(algorithm)]

    def purpose_of(a) -> KeyPurpose:
        for p in fits:
            if p.value == a.value:
                return p
        raise AnswerInvalid(f"{a.value!r} is not a purpose for {algorithm.value}.",
                            next_step="Choose one of: " + ", ".join(p.value for p in fits) + ".")

    purpose = yield from ctx.ask(ChoicePrompt, "purpose", purpose_of, question="Purpose (one per key)",
                                 choices=tuple(Choice(p.value, p.value) for p in fits))
    activate_after = yield from ctx.ask(TextPrompt, "activate-after", _date,
                                        question="Activation date (UTC; the key stays in pre-activation until then)")
    default = cryptoperiod_days(ctx.vault.store, purpose)
    days = yield from ctx.ask(TextPrompt, "cryptoperiod", _days,
                              question=f"Cryptoperiod in days from activation ('default': {default}, SP 800-57)")
    with _session(ctx) as session:
        preflight_generate(ctx.vault, session, name, algorithm, True, purpose=purpose)
        yield from ctx.review("plan-key", f"Generate the {algorithm.value} key {name!r} in the HSM (pre-activation)", [
            item("Name", f"{name} (version 1, token label {name})"), item("Algorithm", algorithm.value),
            item("Purpose", purpose.value), item("Activation date", activate_after),
            item("Cryptoperiod", f"{days or default} days from activation"), item("Token", session.token.describe())])
        ctx.progress(f"Generating {algorithm.value} key {name!r} ({purpose.value}) in the HSM")
        record = generate_key(ctx.vault, session, name, algorithm, purpose=purpose, activate_after=activate_after,
                              cryptoperiod=days, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    ctx.read_aloud(f"Fingerprint of {record.ref}", f"{record.fingerprint} ({fingerprint_words(record.fingerprint)})")
    return {"key": record.ref, "key_label": record.label, "state": record.state.value, "purpose": purpose.value,
            "activate_after": record.activate_after, "fingerprint": record.fingerprint,
            "summary": f"{record.ref} generated ({purpose.value}), {record.state.value} until {activate_after}"}


def _transition_step(ctx, question: str, states, op, *, review: str | None = None, **kwargs):
    key = yield from _key_choice(ctx, "key", question, states)
    reason = yield from ctx.ask(TextPrompt, "reason", _why, question="Why? (recorded in the ledger)")
    if review:
        yield from ctx.review(ctx.step.kind, review.format(key=key.ref), [
            item("Key", f"{key.ref} ({key.algorithm.value}, {key.purpose.value}, {key.state.value}, label {key.label})"),
            fingerprint_item("Fingerprint", key.fingerprint), item("Reason", reason)])
    updated = op(ctx.vault, key.ref, reason=reason, ceremony_id=ctx.ceremony_id, actor=ctx.actor, **kwargs)
    return updated, reason


@step_kind("activate-key", repeatable=False, review="the key and its fingerprint, and the reason")
def activate(ctx, params):
    """pre-activation -> active, on or after the key's activation date."""
    from vault.operations.lifecycle import activate_key

    key, reason = yield from _transition_step(ctx, "Which key is activated?", (KeyState.PRE_ACTIVATION,),
                                              activate_key, now=ctx.now(),
                                              review="Activate {key}: pre-activation -> active (no way back)")
    return {"key": key.ref, "state": key.state.value, "expires_at": key.expires_at,
            "summary": f"{key.ref} active until {key.expires_at}"}


@step_kind("suspend-key", repeatable=False)
def suspend(ctx, params):
    """active -> suspended: it protects nothing and verifies nothing until reactivated."""
    from vault.operations.lifecycle import suspend_key

    key, reason = yield from _transition_step(ctx, "Which key is suspended?", (KeyState.ACTIVE,), suspend_key)
    return {"key": key.ref, "state": key.state.value, "summary": f"{key.ref} suspended: {reason}"}


@step_kind("reactivate-key", repeatable=False)
def reactivate(ctx, params):
    """suspended -> active, unless its cryptoperiod is over."""
    from vault.operations.lifecycle import reactivate_key

    key, reason = yield from _transition_step(ctx, "Which key is reactivated?", (KeyState.SUSPENDED,),
                                              reactivate_key, now=ctx.now())
    return {"key": key.ref, "state": key.state.value, "summary": f"{key.ref} reactivated: {reason}"}


@step_kind("deactivate-key", repeatable=False, review="the key and its fingerprint, and the reason")
def deactivate(ctx, params):
    """active or suspended -> deactivated, no successor: kept to verify and decrypt only."""
    from vault.operations.lifecycle import deactivate_key

    key, reason = yield from _transition_step(ctx, "Which key is deactivated?",
                                              (KeyState.ACTIVE, KeyState.SUSPENDED), deactivate_key,
                                              review="Deactivate {key} without a successor (no way back)")
    return {"key": key.ref, "state": key.state.value, "summary": f"{key.ref} deactivated: {reason}"}


@step_kind("revoke-key", params={
    "statement": ParamSpec("bool", default=True, doc="write a signed revocation statement"),
}, needs_quorum=True, repeatable=False,
    review="the key and its fingerprint, the KMIP reason, the state it goes to, and the statement's signer")
def revoke(ctx, params):
    """Revoke with a KMIP reason code; compromise -> compromised, any other reason -> deactivated.
    A revocation statement is signed in the HSM by an active signing key and written once."""
    from vault.operations.lifecycle import revoke_key
    from vault.operations.revocation import write_revocation_statement

    key = yield from _key_choice(ctx, "key", "Which key is revoked?", _LIVE)

    def reason_of(a) -> RevocationReason:
        try:
            return RevocationReason(a.value)
        except ValueError:
            raise AnswerInvalid(f"{a.value!r} is not a KMIP revocation reason.",
                                next_step="Choose one of: " + ", ".join(r.value for r in RevocationReason) + ".") from None

    reason = yield from ctx.ask(ChoicePrompt, "reason", reason_of, question="Revocation reason (KMIP)",
                                choices=tuple(Choice(r.value, f"{r.value} ({r.kmip_code})") for r in RevocationReason))
    note = yield from ctx.ask(TextPrompt, "note", _why, question="What happened? (recorded in the ledger)")
    signer = path = None
    if params["statement"]:  # every question first: a missing answer changes nothing
        signer = yield from _key_choice(ctx, "signer", "Which active signing key signs the revocation statement?",
                                        (KeyState.ACTIVE,), signing=True, purposes=(KeyPurpose.SIGN,))
        path = yield from ctx.ask(PathPrompt, "statement", _output_path,
                                  question="Write the revocation statement to (a new file; the signature goes "
                                           "beside it as .sig)", purpose=PathPurpose.OUTPUT_FILE)
        if signer.id == key.id:
            raise AnswerInvalid("A key does not sign its own revocation.", next_step="Choose another signing key.")
    from vault.operations.lifecycle import revoke_target

    yield from ctx.review("revoke-key", f"Revoke {key.ref} for {reason.value} (cannot be undone)", [
        item("Key", f"{key.ref} ({key.algorithm.value}, {key.purpose.value}, {key.state.value})"),
        fingerprint_item("Fingerprint", key.fingerprint),
        item("Reason", f"{reason.value} (KMIP {reason.kmip_code}): {note}"),
        item("State after", revoke_target(key, reason).value),
        item("Statement", f"signed by {signer.ref} into {path}" if signer is not None else "none")])
    updated = revoke_key(ctx.vault, key.ref, reason, note=note, ceremony_id=ctx.ceremony_id, actor=ctx.actor)
    out: dict = {"key": updated.ref, "state": updated.state.value, "revocation_reason": reason.value,
                 "summary": f"{updated.ref} revoked ({reason.value}), now {updated.state.value}"}
    if signer is not None:
        with _session(ctx) as session:
            written = write_revocation_statement(ctx.vault, session, updated.ref, signer.ref, Path(path),
                                                 ceremony_id=ctx.ceremony_id, actor=ctx.actor)
        ctx.read_aloud("Revocation statement SHA-256", written.sha256)
        out.update({"statement": written.path, "statement_signature": written.signature_path,
                    "statement_signer": written.signer, "statement_sha256": written.sha256})
    return out
