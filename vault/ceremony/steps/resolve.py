"""The reconcile ceremony's step: settle, one by one and with the quorum's session, every way the
token and the database disagree after a crash. Each resolution is explicit (the administrator
chooses it, a destruction needs the label typed), written to the ledger, and safe to repeat: a
crash part-way leaves the rest still to settle, and the step lists them afresh when run again."""

from __future__ import annotations

from vault.ceremony import intents
from vault.ceremony.kinds import step_kind
from vault.ceremony.prompts import Choice, ChoicePrompt, ConfirmPrompt, TypedConfirmPrompt
from vault.errors import AnswerInvalid, PreconditionFailed


def _typed(label: str):
    def parse(a):
        if a.text != label:
            raise AnswerInvalid("The typed label does not match; nothing was destroyed.",
                                next_step="Type the label exactly, or abort.")
        return a.text
    return parse


def _choice(allowed: tuple[str, ...]):
    def parse(a):
        if a.value not in allowed:
            raise AnswerInvalid(f"{a.value!r}: answer one of {', '.join(allowed)}.")
        return a.value
    return parse


@step_kind("resolve-token", needs_quorum=True, repeatable=True)
def resolve_token(ctx, params):
    """List every difference between the token and the database; adopt an orphan that a crashed
    step's intent names (it is the key that step was making) or destroy an orphan after the label
    is typed; write the tombstone of a key a crashed destroy had already removed; destroy copies a
    killed restore left. A key missing for any other reason, or with another fingerprint, stops
    the step: restore it from a backup, or start the compromise ceremony."""
    from vault.ceremony.steps.keys import _session
    from vault.operations.orphans import adopt_generated, adopt_rotated, destroy_orphan, finish_destruction
    from vault.operations.reconcile import reconcile

    open_intents = intents.all_open(ctx.vault)
    by_label = {}
    for intent in open_intents.values():
        for name in ("label", "new_label"):
            if intent.get(name):
                by_label[intent[name]] = intent
    done = []
    with _session(ctx, reconcile=False) as session:
        report = reconcile(ctx.vault, session)
        if report.fingerprint_mismatch:
            r, k = report.fingerprint_mismatch[0]
            raise PreconditionFailed(f"'{r.label}' on the token is {k.fingerprint}, the database recorded "
                                     f"{r.fingerprint}; the console does not settle that on its own.",
                                     next_step="Treat the key as suspect: start the compromise ceremony.")
        for key in report.unknown_on_token:
            intent = by_label.get(key.label)
            adoptable = intent is not None and intent.get("kind") in ("generate-key", "rotate-key")
            options = ("adopt", "destroy") if adoptable else ("destroy",)
            how = (f"made by step {intent['step']} of ceremony {intent['ceremony_id']}, which stopped before "
                   "recording it" if adoptable else "no step of this vault was making it")
            choice = yield from ctx.ask(ChoicePrompt, f"orphan:{key.label}", _choice(options),
                                        question=f"'{key.label}' ({key.algorithm.value}, {key.fingerprint}) is on the "
                                                 f"token but in no record ({how}). What is done with it?",
                                        choices=tuple(Choice(o, o) for o in options))
            if choice == "adopt":
                if intent["kind"] == "rotate-key":
                    _, record = adopt_rotated(ctx.vault, session, key, intent, ceremony_id=ctx.ceremony_id,
                                              actor=ctx.actor)
                else:
                    record = adopt_generated(ctx.vault, session, key, intent, ceremony_id=ctx.ceremony_id,
                                             actor=ctx.actor)
                done.append(f"adopted {record.label} ({record.fingerprint})")
            else:
                yield from ctx.ask(TypedConfirmPrompt, f"confirm-destroy:{key.label}", _typed(key.label),
                                   expected=key.label, question=f"Type {key.label!r} to destroy it. This cannot be "
                                                                "undone.")
                destroy_orphan(ctx.vault, session, key, reason="orphan destroyed by the reconcile ceremony",
                               ceremony_id=ctx.ceremony_id, actor=ctx.actor)
                done.append(f"destroyed orphan {key.label}")
            if intent is not None:
                intents.clear(ctx.vault, intent["ceremony_id"])
        for record in report.missing_from_token:
            intent = by_label.get(record.label)
            if intent is None or intent.get("kind") != "destroy-key":
                raise PreconditionFailed(f"'{record.label}' v{record.version} is recorded on this token but missing "
                                         "from it, and no step of this vault was destroying it.",
                                         next_step="Restore it from the latest backup onto a fresh token, and record "
                                                   "what happened.")  # fmt: skip
            yield from ctx.ask(ConfirmPrompt, f"tombstone:{record.label}", lambda a: a.yes or _no(),
                               question=f"'{record.label}' was destroyed on the token by step {intent['step']} of "
                                        f"ceremony {intent['ceremony_id']}, which stopped before writing its "
                                        "tombstone. Write it now?")
            finish_destruction(ctx.vault, record, intent, token_serial=session.token.serial,
                               ceremony_id=ctx.ceremony_id, actor=ctx.actor)
            intents.clear(ctx.vault, intent["ceremony_id"])
            done.append(f"tombstone of {record.label} written")
        for record, key in report.copies_of_other_tokens + tuple((r, None) for r in report.destroyed_but_present):
            raise PreconditionFailed(f"'{record.label}' is on this token while the database says otherwise "
                                     f"({record.state.value}, token {record.token_serial}).",
                                     next_step="A copy left by a killed restore is cleared by running the restore "
                                               "again; a destroyed key still present: run the destroy ceremony's "
                                               "recovery (`custodian ceremony unfinished`).")  # fmt: skip
        after = reconcile(ctx.vault, session)
    if not after.ok:
        raise PreconditionFailed("The token and the database still disagree: " + "; ".join(after.differences()) + ".")
    # intents without anything left on the token (the HSM never acted) are closed too
    for cid, intent in intents.all_open(ctx.vault).items():
        if intent.get("abandoned"):
            intents.clear(ctx.vault, cid)
    summary = "; ".join(done) if done else "the token and the database agree; nothing to settle"
    return {"resolved": done, "summary": summary}


def _no():
    raise AnswerInvalid("Nothing was written.", next_step="Answer yes, or abort the ceremony.")


def _asks(params, plan):
    from vault.ceremony.kinds import Ask

    return [Ask("orphan:*", "choice"), Ask("confirm-destroy:*", "typed"), Ask("tombstone:*", "confirm")]


def _declare() -> None:
    from vault.ceremony.kinds import declare_asks

    declare_asks("resolve-token", _asks)


_declare()
