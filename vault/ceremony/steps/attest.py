"""The closing attestation: every participant signs a statement of what the ceremony did.

First ``ceremony.closing`` goes to the ledger; its hash is the closing head. Each participant
then answers agree / do not agree (with a comment), unlocking their personal signing key with
their passphrase; the signed statement (vault.identity.attestation_statement, v2) names the
ceremony, the closing head, the participant, their role, the decision and the time, and says in
plain words what the ceremony changed (keys with fingerprints, bundles with path and SHA-256,
share sets, ...), every deviation the witness recorded and every earlier dissent
(vault.ceremony.statement derives these lines from the ledger events the closing head covers).
Nothing is pre-selected: the prompt's ``statement`` shows the decision line as a choice still
to make. Each ``ceremony.attested`` event's actor is the attester.
"""

from __future__ import annotations

from vault.ceremony.events import Attested
from vault.ceremony.kinds import step_kind
from vault.ceremony.prompts import AttestationAnswer, AttestationPrompt
from vault.errors import AnswerInvalid, PreconditionFailed
from vault.pgpwords import words_for

#: The decision line of the statement shown before the person chooses (nothing is pre-selected).
UNDECIDED = "(not chosen yet: agree or do-not-agree)"


@step_kind("attest", repeatable=True)
def attest(ctx, params):
    """Closing attestations of every participant, signed over the closing ledger head."""
    from vault.ceremony.statement import statement_lines
    from vault.ceremony.witness import enrollment_of
    from vault.identity import attestation_statement, unlock

    people = list(ctx.values.get("participants", []))
    if not people:
        raise PreconditionFailed("Nobody took part in this ceremony to attest it.",
                                 next_step="Add a participants or enroll step to the definition.")
    from vault.ceremony.transcript import closing_digest

    step_names = [s.id for s in ctx.definition.steps if s.index < ctx.step.index]
    names = [p["name"] for p in people]
    # The journal so far (steps, deviations, participants and their keys) goes into the event
    # everyone signs: the transcript's verification then binds it to the signatures.
    closing = ctx.ledger("ceremony.closing", {"name": ctx.definition.name, "steps": step_names, "participants": names,
                                              "attest_step": ctx.step.index,
                                              "journal_sha256": closing_digest(ctx.vault, ctx.ceremony_id,
                                                                               ctx.step.index, names)})
    head = closing.hash
    words = " ".join(words_for(bytes.fromhex(head)))
    ctx.read_aloud("Closing ledger head", f"{head} ({words})")
    results = []
    for person in people:
        record = ctx.vault.store.get_custodian(person["name"])
        enrollment = enrollment_of(record)
        lines = statement_lines(((e.action, e.details) for e in ctx.vault.ledger.events_of(ctx.ceremony_id)),
                                participant=record.name)
        said = dict(changes=lines.changes, deviations=lines.deviations, dissents=lines.dissents)
        preview = attestation_statement(ceremony_id=ctx.ceremony_id, ceremony_name=ctx.definition.name,
                                        ledger_head=head, custodian=record.name, role=record.role, agree=True,
                                        at=ctx.now(), **said).decode()
        preview = preview.replace("\ndecision: agree\n", f"\ndecision: {UNDECIDED}\n", 1)

        def sign(a: AttestationAnswer, enrollment=enrollment, record=record, said=said):
            if not isinstance(a.agree, bool):
                a.passphrase.wipe()
                raise AnswerInvalid("Nothing is chosen: agree or do not agree with the statement.",
                                    next_step="Choose one, then sign with your passphrase.")
            if not a.agree and not a.comment.strip():
                a.passphrase.wipe()
                raise AnswerInvalid("'Do not agree' needs a comment saying why.", next_step="Add the comment.")
            try:
                with unlock(enrollment, a.passphrase) as signer:
                    statement = attestation_statement(ceremony_id=ctx.ceremony_id, ceremony_name=ctx.definition.name,
                                                      ledger_head=head, custodian=record.name, role=record.role,
                                                      agree=a.agree, at=ctx.now(), **said)
                    signature = signer.sign(statement)
            finally:
                a.passphrase.wipe()
            return statement, signature, a.agree, a.comment.strip()

        statement, signature, agree, comment = yield from ctx.ask(
            AttestationPrompt, f"attest:{record.name}", sign, participant=record.name, role=record.role.value,
            statement=preview, ledger_head_hex=head, ledger_head_words=words,
            read_aloud=f"{record.name}: read the statement; agree or do not agree, then unlock with your passphrase.")
        ctx.vault.store.add_attestation(ctx.ceremony_id, record.id, statement=statement.decode(),
                                        signature_hex=signature.hex(), agree=agree, step_id=ctx.step.id)
        ctx.ledger("ceremony.attested", {"participant": record.name, "role": record.role.value, "agree": agree,
                                         "comment": comment, "closing_head": head}, actor=record.name)
        ctx.emit(Attested(ceremony_id=ctx.ceremony_id, participant=record.name, agree=agree))
        results.append({"participant": record.name, "agree": agree, "comment": comment})
        ctx.run_hook(f"attested:{len(results)}")  # crash tests: a resume at attest signs a new closing
    disagree = [r["participant"] for r in results if not r["agree"]]
    return {"closing_head": head, "attestations": results,
            "summary": f"{len(results)} attestations over {head[:16]}…"
            + (f"; do not agree: {', '.join(disagree)}" if disagree else "")}

