"""The attestation pane is honest: nothing is pre-selected, the whole statement must have been
scrolled into view (80x24: it does not fit, an indicator counts the lines below), and signing is
refused, with the reason said in the pane next to the boxes (not a toast), until both are done.
PRACTICE data only."""

from __future__ import annotations

import pytest

from console.panes.people import AttestationPane
from snap_harness import Harness
from test_snapshots import PaneScreen
from tui_helpers import type_fast, wait_until
from vault.ceremony.prompts import AttestationAnswer, AttestationPrompt

HEAD = "9f2c4a1b7e3d5c60" * 4
STATEMENT = "\n".join(["custodian-console attestation v2", "ceremony-id: generate-key-20260501-093000-abcd",
                       "ceremony-name: generate-key", f"ledger-head: {HEAD}", "custodian: alice", "role: custodian",
                       "decision: (not chosen yet: agree or do-not-agree)", "time: 2026-05-01T09:41:00Z"]
                      + [f"change: key created: label key-{i}; algorithm ec-p256; fingerprint sha256:{HEAD}"
                         for i in range(8)] + ["deviation: none", "dissent: none"]) + "\n"


def prompt() -> AttestationPrompt:
    return AttestationPrompt(ceremony_id="generate-key-20260501-093000-abcd", ceremony_name="generate-key",
                             practice=True, step_count=7, step_index=6, step_id="attest",
                             step_title="Closing attestations", ask="attest:alice", participant="alice",
                             role="custodian", statement=STATEMENT, ledger_head_hex=HEAD,
                             ledger_head_words="rebirth Babylon drifter Geiger")


@pytest.mark.asyncio
async def test_nothing_is_preselected_and_the_statement_must_be_read_to_its_end():
    answers = []
    app = Harness(lambda: PaneScreen(AttestationPane(prompt())))
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await _pane(pilot, app)
        pane.answer = answers.append
        assert pane.decision is None  # nothing chosen for the person
        assert pane.lines_below > 0 and "more lines: scroll to the end" in str(pane.query_one("#statement-more").render())

        await _sign(pilot, pane)  # neither read nor chosen: refused, nothing signed
        # the refusal is said in the pane, next to the boxes, never as a toast over them
        assert answers == [] and "whole statement" in pane.problem and not _notices(app)
        assert pane.query_one("#attest-problem").display and pane.query_one("#attest-pp").value == ""

        await type_fast(pilot, ["end"])  # the statement box has focus
        await wait_until(pilot, lambda: pane.read_to_end, what="the statement's end")
        await wait_until(pilot, lambda: "whole statement" in str(pane.query_one("#statement-more").render()),
                         what="the indicator to say the whole statement was seen")
        assert not pane.problem  # read now: that refusal went
        await _sign(pilot, pane)  # read but not chosen
        assert answers == [] and "Choose" in pane.problem and not _notices(app)

        pane.query_one("#decision").focus()
        await type_fast(pilot, ["down", "enter"])  # "I do not agree"
        await wait_until(pilot, lambda: pane.decision is False, what="the decision")
        assert not pane.problem and not pane.query_one("#attest-problem").display
        await _sign(pilot, pane)
        assert len(answers) == 1 and isinstance(answers[0], AttestationAnswer) and answers[0].agree is False
        answers[0].passphrase.wipe()


async def _pane(pilot, app) -> AttestationPane:
    await wait_until(pilot, lambda: app.screen.query_one(AttestationPane).is_mounted, what="the pane")
    await pilot.pause()
    return app.screen.query_one(AttestationPane)


async def _sign(pilot, pane) -> None:
    box = pane.query_one("#attest-pp")
    box.value = "practice-alice-passphrase"
    box.focus()
    await type_fast(pilot, ["enter"])
    await pilot.pause()


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


@pytest.mark.asyncio
async def test_tab_after_i_agree_goes_to_the_passphrase_box_never_the_comment():
    """Seen in the lead's tmux walk: End, Tab, Enter ("I agree"), Tab put the cursor in the
    clear-text comment box, and the passphrase typed there would have been recorded."""
    app = Harness(lambda: PaneScreen(AttestationPane(prompt())))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await _pane(pilot, app)
        await type_fast(pilot, ["end"])
        await wait_until(pilot, lambda: pane.read_to_end, what="the statement's end")
        await type_fast(pilot, ["tab", "enter"])
        await wait_until(pilot, lambda: pane.decision is True, what="the decision")
        await type_fast(pilot, ["tab"])
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "attest-pp",
                         what="Tab to reach the passphrase box")
        assert pane.query_one("#comment").disabled


@pytest.mark.asyncio
async def test_a_passphrase_typed_into_the_comment_is_never_signed_or_recorded():
    answers = []
    app = Harness(lambda: PaneScreen(AttestationPane(prompt())))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await _pane(pilot, app)
        pane.answer = answers.append
        await type_fast(pilot, ["end"])
        await wait_until(pilot, lambda: pane.read_to_end, what="the statement's end")
        pane.query_one("#decision").focus()
        await type_fast(pilot, ["down", "enter"])  # "I do not agree": the comment box opens
        await wait_until(pilot, lambda: pane.decision is False, what="the decision")
        await type_fast(pilot, ["tab"])
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "comment", what="the comment")
        await type_fast(pilot, [*"practice-alice-passphrase", "enter"])  # the wrong box
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "attest-pp", what="the passphrase box")
        await type_fast(pilot, [*"practice-alice-passphrase", "enter"])
        await wait_until(pilot, lambda: "comment held your passphrase" in pane.problem, what="the refusal")
        assert answers == [] and pane.query_one("#comment").value == "" and pane.query_one("#attest-pp").value == ""
        assert app.focused.id == "comment"
        await type_fast(pilot, [*"the seal was torn", "enter", *"practice-alice-passphrase", "enter"])
        await wait_until(pilot, lambda: answers, what="the attestation")
        assert answers[0].agree is False and answers[0].comment == "the seal was torn"
        answers[0].passphrase.wipe()


@pytest.mark.asyncio
async def test_a_dissent_refused_for_its_missing_comment_comes_back_with_the_cursor_in_the_comment():
    """The engine refuses 'I do not agree' without a comment; asked again, the choice is kept and
    the cursor is in the comment box, where the refusal points (not in the passphrase box)."""
    import dataclasses
    import json

    again = dataclasses.replace(prompt(), error_code="ANSWER", error_message="'Do not agree' needs a comment saying why.",
                                previous=json.dumps({"agree": False, "comment": ""}))
    app = Harness(lambda: PaneScreen(AttestationPane(again)))
    async with app.run_test(size=(100, 30)) as pilot:
        pane = await _pane(pilot, app)
        pane.focus_first()
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "comment", what="the comment box")
        assert pane.decision is False and not pane.query_one("#comment").disabled
