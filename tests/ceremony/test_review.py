"""Review before action, going back, and the witness as evidence (real SoftHSM, real SQLite).

* Every built-in ceremony replays; at every review the token's files and the step's journal row
  are exactly as they were when the step started, and the ledger gained only the engine's own
  bookkeeping: nothing irreversible happened before the administrator and the witness confirmed.
* A back from the review returns to the step's last question with its earlier answer offered,
  nothing done; a second review (with the changed answer) is what the HSM then does.
* The witness authenticates once per ceremony with their passphrase (a wrong one is re-asked);
  each sign-off is recorded with the witness as actor; a deviation is recorded as such.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from support.ceremony_workspace import ORDER, Workspace, passphrase
from vault.ceremony.definitions import find_definition
from vault.ceremony.engine import Engine
from vault.ceremony.events import StepStarted
from vault.ceremony.kinds import registry
from vault.ceremony.prompts import (
    BackAnswer,
    PassphrasePrompt,
    ReviewAnswer,
    ReviewPrompt,
    SecretAnswer,
    TextPrompt,
    WitnessPrompt,
)
from vault.ceremony.review import review_sha256
from vault.ceremony.runner import drive
from vault.ceremony.script import ScriptResponder, load_script, script_options
from vault.secret import Secret

ENGINE_BOOKKEEPING = {"witness.authenticated", "review.withdrawn"}


def token_files(ws: Workspace) -> dict[str, str]:
    """sha256 of every object file of the home's SoftHSM tokens: a key made, changed or destroyed
    shows. (``token.object`` also changes at a mere login, so PIN changes are checked through the
    ledger: ``token.pins_set`` must not precede the review.)"""
    root = ws.home / "tokens"
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.object")) if p.name != "token.object"}


class Watch:
    """Wraps the script responder: lets a test look at (and answer) prompts as they come."""

    def __init__(self, inner, on_prompt=None) -> None:
        self.inner, self.on_prompt = inner, on_prompt
        self.prompts: list = []
        self.events: list = []

    def answer(self, prompt):
        self.prompts.append(prompt)
        if self.on_prompt is not None:
            answer = self.on_prompt(prompt)
            if answer is not None:
                return answer
        return self.inner.answer(prompt)

    def on_event(self, event) -> None:
        self.events.append(event)
        if self.on_event_hook is not None:
            self.on_event_hook(event)

    on_event_hook = None


def run_watched(ws: Workspace, name: str, script: Path | None = None, *, on_prompt=None, on_event=None, vault=None):
    def go(v):
        definition = find_definition(name, v.home.path)
        sc = load_script(script or ws.root / f"{name}.toml", definition)
        engine = Engine(v, definition, options=script_options(sc, kdf_profile="fast-for-tests"))
        watch = Watch(ScriptResponder(sc), on_prompt)
        watch.on_event_hook = on_event
        return engine, watch, drive(engine, watch)

    if vault is not None:
        return go(vault)
    with ws.vault() as v:
        return go(v)


def ledger_actions(v, ceremony_id: str) -> list[str]:
    return [e.action for e in v.ledger.events_of(ceremony_id)]


# --- nothing happens before the review is confirmed ---------------------------------------------------
def test_every_irreversible_step_is_reviewed_before_the_token_or_the_ledger_changes(ws: Workspace):
    kinds = registry()
    reviewed_kinds = set()
    for name in ORDER:
        if name == "restore":
            ws.lose_token()
        with ws.vault() as v:
            at_start: dict = {}

            def on_event(e, v=v):
                if isinstance(e, StepStarted) and kinds[e.kind].review:
                    at_start[e.step_id] = (token_files(ws), v.ledger.head().seq)

            def on_prompt(p, v=v):
                if isinstance(p, ReviewPrompt):
                    files, seq = at_start[p.step_id]
                    assert token_files(ws) == files, f"{name}.{p.step_id}: the token changed before the review"
                    gained = [e.action for e in v.ledger.events(seq + 1)]
                    assert set(gained) <= ENGINE_BOOKKEEPING, f"{name}.{p.step_id}: {gained} before the review"
                    row = [s for s in v.store.steps_of(p.ceremony_id) if s.step_id == p.step_id][-1]
                    assert row.status.value == "started" and not row.result
                    assert p.administrator == "admin" and p.witness == "wendy" and p.items
                return None

            engine, watch, outcome = run_watched(ws, name, on_prompt=on_prompt, on_event=on_event, vault=v)
            assert outcome.ok, outcome.one_line()
            reviewed = {p.step_id for p in watch.prompts if isinstance(p, ReviewPrompt)}
            for step in engine.definition.steps:
                if kinds[step.kind].review:
                    assert step.id in reviewed, f"{name}.{step.id} ({step.kind}) acted without a review"
                    reviewed_kinds.add(step.kind)
            # the ledger has each confirmed review, with the digest of exactly what was shown
            shown = {p.review_sha256: p for p in watch.prompts if isinstance(p, ReviewPrompt)}
            for e in v.ledger.events_of(engine.ceremony_id):
                if e.action == "review.confirmed":
                    d = e.details
                    assert review_sha256(d["review"]) == d["review_sha256"] in shown
                    assert e.actor == "admin" and d["witness"] == "wendy"
    from support.ceremony_workspace import OWN_CHAIN_REVIEWED_KINDS

    # kinds whose ceremonies replay in their own chains check their reviews there
    declared = {k for k, kind in kinds.items() if kind.review} - OWN_CHAIN_REVIEWED_KINDS
    assert reviewed_kinds == declared, declared - reviewed_kinds


def test_sign_review_shows_the_payload_digest_in_hex_and_words_and_its_size(ws: Workspace):
    ws.replay("generate-key")
    _engine, watch, outcome = run_watched(ws, "sign")
    assert outcome.ok
    review = next(p for p in watch.prompts if isinstance(p, ReviewPrompt))
    items = {i.label: i for i in review.items}
    payload = (ws.root / "payload.txt").read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    from vault.pgpwords import words_for

    assert items["Payload SHA-256"].value == digest
    assert items["Payload SHA-256"].words == " ".join(words_for(bytes.fromhex(digest)))
    assert items["Payload size"].value == f"{len(payload)} bytes"
    assert items["Fingerprint"].value.startswith("sha256:")


def test_a_payload_changed_after_the_review_is_not_signed(ws: Workspace):
    ws.replay("generate-key")
    payload = ws.root / "payload.txt"

    def on_prompt(p):
        if isinstance(p, ReviewPrompt):
            payload.write_bytes(b"something else entirely\n")  # swapped on the medium after the review
        return None

    _engine, _watch, outcome = run_watched(ws, "sign", on_prompt=on_prompt)
    assert not outcome.ok and outcome.code == "REVIEW_MISMATCH"
    assert not (ws.root / "media" / "payload.sig").exists()
    with ws.vault() as v:
        assert "payload.signed" not in ledger_actions(v, outcome.ceremony_id)


def test_the_review_needs_both_the_administrator_and_the_witness(ws: Workspace):
    ws.replay("init")
    answers = iter([ReviewAnswer(True, False), ReviewAnswer(False, True)])

    def on_prompt(p):
        if isinstance(p, ReviewPrompt) and p.error_code is None:
            return next(answers)
        return None

    script = ws.variant("generate-key", answers={"backup.path": "media/b.ccb"})
    _e, watch, outcome = run_watched(ws, "generate-key", script, on_prompt=on_prompt)
    # the first refusal re-asks with the reason; the script then answers the re-asked review
    # (an error on a prompt stops a script), so the run aborts with nothing generated
    refused = [p for p in watch.prompts if isinstance(p, ReviewPrompt) and p.error_code]
    assert refused and "wendy has not confirmed" in refused[0].error_message
    assert not outcome.ok
    with ws.vault() as v:
        assert v.store.list_keys() == []
        assert "key.generated" not in ledger_actions(v, outcome.ceremony_id)


# --- back from the review ---------------------------------------------------------------------------------
def test_back_from_the_review_returns_to_the_answers_with_nothing_done(ws: Workspace):
    ws.replay("init")
    before = token_files(ws)
    seen_at_back = {}

    def on_prompt(p):
        if isinstance(p, ReviewPrompt) and not seen_at_back:
            assert p.can_go_back
            seen_at_back["items"] = {i.label: i.value for i in p.items}
            assert token_files(ws) == before
            return BackAnswer()
        return None

    script = ws.variant("generate-key", answers={
        "generate.backup": ["backup", "no-backup"],
        "generate.no-backup-reason": "a signing key that is never restored elsewhere",
    })
    _e, watch, outcome = run_watched(ws, "generate-key", script, on_prompt=on_prompt)
    assert outcome.ok, outcome.one_line()
    asks = [f"{p.step_id}.{p.ask}" for p in watch.prompts if p.step_id == "generate"]
    # label, algorithm, backup, (witness passphrase), review -> back -> backup again (its earlier
    # answer offered), no-backup reason, review again, the witness's sign-off
    assert asks == ["generate.label", "generate.algorithm", "generate.backup", "generate.witness-passphrase",
                    "generate.review", "generate.backup", "generate.no-backup-reason", "generate.review",
                    "generate.witness"]
    again = [p for p in watch.prompts if p.step_id == "generate" and p.ask == "backup"][1]
    assert again.previous == "backup" and again.error_code is None
    reviews = [p for p in watch.prompts if isinstance(p, ReviewPrompt)]
    assert "NO BACKUP" in {i.label: i.value for i in reviews[-1].items}["Backup"]
    assert seen_at_back["items"]["Backup"].startswith("backed up")
    with ws.vault() as v:
        acts = ledger_actions(v, outcome.ceremony_id)
        assert acts.index("review.withdrawn") < acts.index("review.confirmed") < acts.index("key.generated")
        assert acts.count("key.generated") == 1 and acts.count("witness.authenticated") == 1
        (key,) = v.store.list_keys()
        assert key.label == "signer-2026" and key.no_backup_reason
        withdrawn = next(e for e in v.ledger.events_of(outcome.ceremony_id) if e.action == "review.withdrawn")
        assert withdrawn.details["review_sha256"] == reviews[0].review_sha256
        # the replayed questions were not announced again: one rejection-free run of each
        assert not any(getattr(e, "code", None) for e in watch.events if type(e).__name__ == "AnswerRejected")


def test_back_is_refused_at_a_steps_first_question_and_after_a_secret(ws: Workspace):
    ws.replay("init")
    script = ws.variant("generate-key", answers={
        "participants.administrator": [{"action": "back"}, "admin"],
        "quorum.share": [{"share": "file:shares/alice.share"}, {"action": "back"},
                         {"share": "file:shares/bob.share"}, {"share": "file:shares/carol.share"}],
    })
    _e, watch, outcome = run_watched(ws, "generate-key", script)
    first = watch.prompts[0]
    assert first.ask == "administrator" and not first.can_go_back
    again = watch.prompts[1]
    assert again.ask == "administrator" and again.error_code == "ANSWER"
    assert "first question" in again.error_message
    shares = [p for p in watch.prompts if p.ask == "share"]
    assert not shares[1].can_go_back  # a share was entered: it is wiped once used, nothing to replay
    assert shares[2].error_code == "ANSWER" and "a share or a passphrase was entered" in shares[2].error_message
    assert shares[1].no_back and shares[1].no_back in shares[2].error_message  # said before a back is tried
    assert outcome.ok, outcome.one_line()  # each refusal was answered again, as the script's lists say


def test_back_from_the_second_question_drops_only_the_last_answer(ws: Workspace):
    ws.replay("init")
    script = ws.variant("generate-key", answers={"generate.label": ["signer-2026", "signer-b"]})
    seen = []

    def back_once(p):
        seen.append(p)
        if p.step_id == "generate" and p.ask == "algorithm" and len([s for s in seen if s.ask == "algorithm"]) == 1:
            assert p.can_go_back
            return BackAnswer()
        return None

    _e, watch, outcome = run_watched(ws, "generate-key", script, on_prompt=back_once)
    assert outcome.ok, outcome.one_line()
    labels = [p for p in watch.prompts if p.step_id == "generate" and p.ask == "label"]
    assert len(labels) == 2 and labels[1].previous == "signer-2026"
    with ws.vault() as v:
        assert [k.label for k in v.store.list_keys()] == ["signer-b"]


def test_back_from_a_later_custodians_passphrase_returns_to_their_name(ws: Workspace):
    """A name typo is corrected even after earlier custodians were enrolled (the engine cannot
    rewind the step: the step takes the back itself, nothing of the mistyped person is stored)."""
    original, typo = "bob", "bbo"
    assert ws.example("init")["answers"]["custodians.name:2"] == original
    # after the back, "alice" again is refused: the step still knows who it enrolled (no replay)
    script = ws.variant("init", answers={"custodians.name:2": [typo, "alice", original]})
    seen = []

    def back_at_typo(p):
        seen.append(p)
        if p.step_id == "custodians" and p.ask == "passphrase:2" and p.custodian == typo:
            assert p.can_go_back and p.local_back and not p.no_back
            return BackAnswer()
        return None

    _e, watch, outcome = run_watched(ws, "init", script, on_prompt=back_at_typo)
    assert outcome.ok, outcome.one_line()
    names = [p for p in watch.prompts if p.step_id == "custodians" and p.ask == "name:2"]
    assert len(names) == 3 and names[1].previous == typo  # offered again, to correct
    assert names[2].error_code == "ANSWER" and "already named in this step" in names[2].error_message
    with ws.vault() as v:
        enrolled = {c.name for c in v.store.list_custodians()}
        actions = ledger_actions(v, outcome.ceremony_id)
    assert original in enrolled and typo not in enrolled
    assert actions.count("custodian.enrolled") == 7  # admin, witness, five custodians; never the typo


# --- the witness ------------------------------------------------------------------------------------------
def test_the_witness_authenticates_once_and_every_sign_off_is_recorded_as_theirs(ws: Workspace):
    ws.replay("init")
    wrong = {"done": False}

    def on_prompt(p):
        if isinstance(p, PassphrasePrompt) and p.ask == "witness-passphrase":
            if not wrong["done"]:
                wrong["done"] = True
                return SecretAnswer(Secret("not wendy's passphrase", "passphrase"))
            return SecretAnswer(Secret(passphrase("wendy"), "passphrase"))
        return None

    script = ws.variant("generate-key", answers={"backup.witness": {"deviation": {
        "expected": "the bundle written to media/", "happened": "the first medium was write-protected",
        "action": "a second medium was used", "decided_by": "wendy"}}})
    _e, watch, outcome = run_watched(ws, "generate-key", script, on_prompt=on_prompt)
    assert outcome.ok, outcome.one_line()
    auth = [p for p in watch.prompts if isinstance(p, PassphrasePrompt) and p.ask == "witness-passphrase"]
    assert [p.error_code for p in auth] == [None, "PASSPHRASE"] and auth[0].custodian == "wendy"
    with ws.vault() as v:
        events = v.ledger.events_of(outcome.ceremony_id)
        assert [e.action for e in events].count("witness.authenticated") == 1
        (authenticated,) = [e for e in events if e.action == "witness.authenticated"]
        assert authenticated.actor == "wendy" and authenticated.details["fingerprint"].startswith("sha256:")
        signed_off = [e for e in events if e.action == "ceremony.witnessed"]
        assert [(e.actor, e.details["step"], e.details["outcome"]) for e in signed_off] == [
            ("wendy", "generate", "confirmed"), ("wendy", "backup", "deviation")]
        assert all(e.at and e.details["summary"] for e in signed_off)
        deviation = next(e for e in events if e.action == "ceremony.deviation")
        assert deviation.actor == "wendy" and deviation.details["happened"] == "the first medium was write-protected"
        # all of it comes before the closing head the witness signs
        closing = next(e for e in events if e.action == "ceremony.closing")
        assert all(e.seq < closing.seq for e in signed_off + [authenticated, deviation])


def test_the_witness_passphrase_is_asked_once_per_ceremony_however_often_they_act(ws: Workspace):
    ws.replay("init")
    _e, watch, outcome = run_watched(ws, "generate-key")
    assert outcome.ok
    assert [p.ask for p in watch.prompts].count("witness-passphrase") == 1
    assert sum(isinstance(p, WitnessPrompt) for p in watch.prompts) == 2


# --- the rules of going back, on step kinds made for the test ------------------------------------------
from vault.ceremony.kinds import REGISTRY, step_kind  # noqa: E402
from vault.ceremony.prompts import TextAnswer  # noqa: E402


def _text(ctx, ask):
    return (yield from ctx.ask(TextPrompt, ask, lambda a: a.text, question=ask))


@pytest.fixture
def test_kinds():
    registry()  # the built-in kinds first

    @step_kind("t-ask-ask")
    def ask_ask(ctx, params):
        a = yield from _text(ctx, "a")
        ctx.notice(f"a is {a}")  # said once, not again when a back replays the answer
        b = yield from _text(ctx, "b")
        c = yield from _text(ctx, "c")
        return {"summary": f"{a}{b}{c}"}

    @step_kind("t-ledger-then-ask")
    def ledger_then_ask(ctx, params):
        yield from _text(ctx, "a")
        ctx.ledger("test.recorded", {})  # something was recorded: no replay may repeat it
        yield from _text(ctx, "b")

    @step_kind("t-secret-then-ask")
    def secret_then_ask(ctx, params):
        yield from _text(ctx, "a")
        yield from ctx.ask(PassphrasePrompt, "p", lambda a: a.secret.wipe(), custodian="x", purpose="test")
        yield from _text(ctx, "b")

    yield
    for name in ("t-ask-ask", "t-ledger-then-ask", "t-secret-then-ask"):
        REGISTRY.pop(name, None)


def _definition(ws: Workspace, kind: str) -> None:
    with ws.vault():
        pass  # the practice home exists
    (ws.home / "ceremonies").mkdir(parents=True, exist_ok=True)
    (ws.home / "ceremonies" / "t-back.toml").write_text(f'''format = 1
name = "t-back"
title = "Back rules"
purpose = "test"
roles = ["administrator"]
quorum = "none"

[[step]]
id = "s"
kind = "{kind}"
title = "the step"
''')


def _answers(ws: Workspace, script: list, events: list | None = None):
    """Drive t-back with ``script``: a list of answers (``back`` for BackAnswer), record prompts."""
    with ws.vault() as v:
        engine = Engine(v, find_definition("t-back", v.home.path))
        if events is not None:
            engine.subscribe(events.append)
        engine.start()
        prompts = []
        for a in script:
            prompts.append(engine.pending())
            engine.submit(BackAnswer() if a == "back" else a)
        prompts.append(engine.pending())
        engine.abort("test over") if engine.pending() is not None else None
        return prompts


def test_back_replays_the_earlier_answers_and_offers_the_dropped_one(ws: Workspace, test_kinds):
    _definition(ws, "t-ask-ask")
    events: list = []
    prompts = _answers(ws, [TextAnswer("one"), TextAnswer("two"), "back", "back"], events)
    assert [p.ask for p in prompts] == ["a", "b", "c", "b", "a"]
    assert [e.message for e in events if type(e).__name__ == "Notice"] == ["a is one"]  # not again in the replay
    assert not prompts[0].can_go_back and prompts[1].can_go_back and prompts[3].can_go_back
    assert prompts[3].previous == "two" and prompts[4].previous == "one" and not prompts[4].error_code


@pytest.mark.parametrize("kind", ["t-ledger-then-ask", "t-secret-then-ask"])
def test_no_back_once_something_was_recorded_or_a_secret_entered(ws: Workspace, test_kinds, kind):
    _definition(ws, kind)
    first = [TextAnswer("one")] + ([SecretAnswer(Secret("pass-phrase", "passphrase"))] if "secret" in kind else [])
    prompts = _answers(ws, first + ["back"])
    at_b, after = prompts[-2], prompts[-1]
    assert at_b.ask == "b" and not at_b.can_go_back
    assert after.ask == "b" and after.error_code == "ANSWER" and "no going back" in after.error_message
