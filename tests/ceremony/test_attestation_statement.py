"""Honest attestations: each statement says what the ceremony changed, every deviation and every
earlier dissent, in lines derived from the ledger events the closing head covers; each
``ceremony.attested`` event's actor is the attester; a dissent makes the outcome "completed with
dissent" in the ledger and the transcript; and a statement that claims anything else, even one
validly signed by its participant, fails verification."""

from __future__ import annotations

import json

from support.transcript_forge import forged
from test_engine import SCRIPT, home, run  # noqa: F401  (home is a fixture)
from vault.ceremony import transcript as T
from vault.ceremony.witness import enrollment_of
from vault.identity import public_key_fingerprint, unlock
from vault.secret import Secret

DISSENT_AND_DEVIATION = SCRIPT + (
    '"room.witness" = { deviation = { expected = "door closed", happened = "door open", action = "closed it", '
    'decided_by = "wendy" } }\n'
    '"attest.attest:alice" = [{ agree = false, comment = "the door was open" }]\n')


def _ran(home, tmp_path):
    result, vault = run(home, DISSENT_AND_DEVIATION, tmp_path)
    assert result.ok, result.one_line()
    return vault, result.outcome.ceremony_id


def test_statements_say_what_changed_the_deviation_and_earlier_dissents(home, tmp_path):
    vault, cid = _ran(home, tmp_path)
    try:
        alice, wendy = (a.statement for a in vault.store.attestations_of(cid))
        assert alice.startswith("custodian-console attestation v2\n")
        wendy_fp = public_key_fingerprint(vault.store.get_custodian("wendy").public_key_pem)
        assert f"change: person enrolled: name wendy; role witness; fingerprint {wendy_fp}\n" in alice
        assert ("deviation: step room: expected door closed; happened door open; action closed it; "
                "decided by wendy\n") in alice
        assert alice.endswith("dissent: none\n") and "decision: do-not-agree\n" in alice
        assert wendy.endswith("dissent: alice does not agree: the door was open\n")

        events = vault.ledger.events_of(cid)
        assert [(e.actor, e.details["participant"]) for e in events if e.action == "ceremony.attested"] == [
            ("alice", "alice"), ("wendy", "wendy")]
        final = events[-1].details
        assert (final["outcome"], final["dissents"], final["deviations"]) == ("completed with dissent", ["alice"], 1)

        t = json.loads(T.to_json(T.build(vault, cid)))
        assert T.verify(t).ok
        md = T.render_markdown(t)
        assert "Status: **completed with dissent, 1 deviation recorded**" in md
        assert "alice: **DO NOT AGREE**" in md and "the door was open" in md
    finally:
        vault.close()


def test_a_validly_signed_statement_that_misstates_the_changes_fails(home, tmp_path):
    vault, cid = _ran(home, tmp_path)
    try:
        t = json.loads(T.to_json(T.build(vault, cid)))
        assert T.verify(forged(t, lambda x: None)).ok  # the forger's reseal alone changes nothing
        # alice signs, with her own key, a statement that hides the deviation
        honest = t["attestations"][0]["statement"]
        lie = honest.replace(next(line for line in honest.splitlines() if line.startswith("deviation: ")),
                             "deviation: none")
        with unlock(enrollment_of(vault.store.get_custodian("alice")), Secret("alice-passphrase", "pp")) as signer:
            signature = signer.sign(lie.encode()).hex()

        def swap(x):
            x["attestations"][0].update(statement=lie, signature_hex=signature)
        report = T.verify(forged(t, swap))
        assert not report.ok
        assert report.problems == ["attestation of alice: what the statement says changed (keys, bundles, share "
                                   "sets, deviations, dissents) differs from the ledger events it signs over"]
    finally:
        vault.close()


def test_an_outcome_that_hides_the_dissent_fails(home, tmp_path):
    vault, cid = _ran(home, tmp_path)
    try:
        t = json.loads(T.to_json(T.build(vault, cid)))

        def hide(x):
            final = x["ledger"]["events"][-1]
            d = json.loads(final["details"])
            d.update(outcome="completed", dissents=[])
            final["details"] = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        report = T.verify(forged(t, hide))
        assert report.problems == ["the outcome the final ledger event recorded (dissents, deviations) differs "
                                   "from the attestations and deviations"]
    finally:
        vault.close()
