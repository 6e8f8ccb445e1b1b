"""Forms that work the way people type (issue 11, item 2): Tab, Enter and Shift+Tab move between
fields, every rejection is said next to its field, and the message goes once the field is fixed."""

from __future__ import annotations

from textual.app import App, ComposeResult

from console.panes.people import PassphrasePane
from console.panes.simple import ChecklistPane, TextPane
from console.widgets.secret_input import SecretInput
from tui_helpers import SIZE, wait_until
from vault.ceremony.prompts import ChecklistPrompt, PassphrasePrompt, SecretAnswer, TextPrompt

COMMON = dict(ceremony_id="init-1", ceremony_name="init", practice=True, step_index=2, step_count=12)


def new_passphrase() -> PassphrasePrompt:
    return PassphrasePrompt(**COMMON, step_id="custodians", step_title="Enroll the custodians", ask="passphrase:1",
                            custodian="alice", purpose="to protect the key you sign your attestations with", new=True,
                            min_length=8)


class PaneApp(App):
    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane
        self.answers = []

    def compose(self) -> ComposeResult:
        yield self.pane

    def on_prompt_pane_answered(self, message) -> None:
        self.answers.append(message.answer)


def problem(app, box: str) -> str:
    return str(app.query_one(f"#{box}-problem").render())


async def test_type_tab_type_enter_submits_the_passphrase():
    app = PaneApp(PassphrasePane(new_passphrase()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
        await pilot.press(*"correct-horse", "tab", *"correct-horse", "enter")
        await wait_until(pilot, lambda: app.answers, what="the answer")
        [answer] = app.answers
        assert isinstance(answer, SecretAnswer) and answer.secret.reveal_text() == "correct-horse"
        assert all(box.value == "" for box in app.query(SecretInput))


async def test_enter_moves_on_and_shift_tab_goes_back():
    app = PaneApp(PassphrasePane(new_passphrase()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
        await pilot.press(*"correct-horse", "enter")
        assert app.focused.id == "pp2" and "Long enough" in problem(app, "pp1") and not app.answers
        await pilot.press("shift+tab")
        assert app.focused.id == "pp1"
        await pilot.press("tab", *"correct-horse", "enter")
        await wait_until(pilot, lambda: app.answers)


async def test_too_short_is_said_next_to_the_box_and_cleared_when_fixed():
    app = PaneApp(PassphrasePane(new_passphrase()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
        await pilot.press(*"short", "tab", *"short", "enter")
        assert "Too short: 5 of at least 8" in problem(app, "pp1") and app.focused.id == "pp1"
        assert app.query_one("#pp2").value == "short"  # nothing typed is thrown away
        await pilot.press(*"-but-longer")
        assert problem(app, "pp1") == ""  # the stale message is gone as soon as the box is edited
        await pilot.press("tab", *"-but-longer", "enter")
        await wait_until(pilot, lambda: app.answers)
        assert app.answers[0].secret.reveal_text() == "short-but-longer"


async def test_a_mismatch_keeps_the_first_box_and_asks_the_second_again():
    app = PaneApp(PassphrasePane(new_passphrase()))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
        await pilot.press(*"correct-horse", "tab", *"correct-hrose", "enter")
        assert "Not the same" in problem(app, "pp2") and app.focused.id == "pp2" and not app.answers
        assert app.query_one("#pp1").value == "correct-horse" and app.query_one("#pp2").value == ""
        await pilot.press(*"correct-horse", "enter")
        await wait_until(pilot, lambda: app.answers)


async def test_text_pattern_problem_clears_when_edited():
    prompt = TextPrompt(**COMMON, step_id="policy", step_title="Policy", ask="label", question="Label?",
                        pattern=r"[a-z-]+")
    app = PaneApp(TextPane(prompt))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None)
        await pilot.press(*"my key!", "enter")
        shown = str(app.query_one(".pane-problem").render())
        assert "not in the expected form" in shown and not app.answers
        await pilot.press("backspace")
        assert str(app.query_one(".pane-problem").render()) == ""


async def test_checklist_says_what_is_missing_next_to_the_items():
    prompt = ChecklistPrompt(**COMMON, step_id="room", step_title="Room", ask="checklist", items=("a", "b", "c"))
    app = PaneApp(ChecklistPane(prompt))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None)
        await pilot.press("space", "tab", "tab", "enter")  # a ticked; enter on c ticks it and moves on
        assert app.focused.id == "continue"
        await pilot.press("enter")
        assert not app.answers
        assert "Item 2 is not ticked yet" in str(app.query_one(".pane-problem").render())
        await pilot.press("shift+tab", "space")  # back to b
        assert str(app.query_one(".pane-problem").render()) == ""


async def test_keys_sent_at_once_land_in_the_box_they_were_meant_for():
    """tmux send-keys (or a fast typist, or a paste) delivers type-Tab-type-Enter faster than the
    screen moves the focus: the Tab and the Enter must still move it before the next key lands."""
    from tui_helpers import type_fast

    for between in ("tab", "enter"):
        app = PaneApp(PassphrasePane(new_passphrase()))
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
            await type_fast(pilot, [*"admin-pass-1", between, *"admin-pass-1", "enter"])
            await wait_until(pilot, lambda: app.answers, what=f"the answer (type, {between}, type, enter)")
            assert app.answers[0].secret.reveal_text() == "admin-pass-1"


async def test_the_deviation_form_tabs_through_and_names_what_is_missing_next_to_it():
    from tui_helpers import type_fast

    app = _witness_app()
    async with app.run_test(size=SIZE) as pilot:
        await _open_deviation_form(pilot, app)
        # all at once, as tmux or a fast typist sends them: three fields, the fourth left empty
        await type_fast(pilot, [*"seals intact", "tab", *"seal 2 torn", "enter", *"photographed", "tab", "tab",
                                "enter"])
        problem_box = app.query_one("#dev-problem")
        await wait_until(pilot, lambda: "still empty: who decided" in str(problem_box.render()))
        assert app.focused.id == "dev-decided" and not app.answers  # the cursor is where the gap is
        assert [app.query_one(f"#dev-{n}").value for n in ("expected", "happened", "action")] == [
            "seals intact", "seal 2 torn", "photographed"]
        await pilot.pause(0.3)  # a Button ignores a second press within its 0.2 s press effect
        await type_fast(pilot, [*"admin", "enter", "enter"])
        assert str(problem_box.render()) == ""  # gone once the field was edited
        await wait_until(pilot, lambda: app.answers, what="the deviation")
        d = app.answers[0].deviation
        assert not app.answers[0].confirmed and (d.expected, d.happened, d.action, d.decided_by) == (
            "seals intact", "seal 2 torn", "photographed", "admin")


async def test_escape_closes_a_deviation_form_opened_by_mistake_and_the_witness_can_still_confirm():
    """Seen in the lead's tmux walk: ctrl+d by mistake, then Escape, left the form open and said
    "No going back". Escape closes the form (typed text cleared), the cursor is on Confirm."""
    from tui_helpers import type_fast

    app = _witness_app()
    async with app.run_test(size=SIZE) as pilot:
        await _open_deviation_form(pilot, app)
        await type_fast(pilot, [*"oops"])
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "confirm")
        assert not any(w.display for w in app.query(".deviation"))
        assert app.query_one("#dev-expected").value == ""
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.answers, what="the confirmation")
        assert app.answers[0].confirmed and app.answers[0].deviation is None


async def test_an_attestation_never_puts_the_cursor_in_the_comment_box():
    """The comment is clear text and recorded: a passphrase typed there would reach the ledger.
    The pane's first focus, and the refocus after a read-aloud dialog closes (``focus_first``),
    is never the comment box (it is the statement, read first)."""
    from console.panes.people import AttestationPane
    from vault.ceremony.prompts import AttestationPrompt

    prompt = AttestationPrompt(**COMMON, step_id="attest", step_title="Closing attestations", ask="attest:admin",
                               participant="admin", role="administrator", statement="custodian-console attestation v1",
                               ledger_head_hex="ab" * 32, ledger_head_words="words")
    app = PaneApp(AttestationPane(prompt))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.focused is not None)
        await pilot.pause()
        assert app.focused.id != "comment"
        app.query_one("#comment").focus()
        await pilot.pause()
        app.pane.focus_first()  # what the wizard does when a read-aloud dialog closes
        await pilot.pause()
        assert app.focused.id == "statement-scroll"


async def test_leaving_a_passphrase_box_posts_no_message_with_its_value():
    """Tab or Enter out of a filled box blurs it while it still holds the passphrase: Input's own
    blur handler would post ``Blurred(value)``; the quiet box must stop it."""
    from tui_helpers import MessageTap

    tap = MessageTap()
    app = PaneApp(PassphrasePane(new_passphrase()))
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "pp1")
        await pilot.press(*"correct-horse-1", "tab", "shift+tab", "enter", *"correct-horse-1", "enter")
        await wait_until(pilot, lambda: app.answers)
    assert "correct-horse-1" not in tap.joined()


async def test_the_practice_path_for_a_signature_is_not_named_like_a_bundle(tmp_path):
    from console.panes.simple import PathPane
    from vault.ceremony.prompts import PathPrompt, PathPurpose

    for ask, question, suffix in (("signature", "Write the signature to", ".sig"),
                                  ("path", "Write the backup bundle to", ".ccb")):
        pane = PathPane(PathPrompt(**COMMON, step_id="s", step_title="t", ask=ask, question=question,
                                   purpose=PathPurpose.OUTPUT_FILE))
        app = PaneApp(pane)
        app.home_path = tmp_path
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert pane._practice_path().suffix == suffix


async def test_the_witness_reads_a_fingerprint_in_groups_of_four():
    # seen in a tmux walk at 100x30: the generated key's fingerprint ran as one 64-character run
    # and broke mid-run at the line's end, where it is read aloud.
    from console.panes.people import WitnessPane
    from vault.ceremony.prompts import WitnessPrompt

    fingerprint = "7a982fe47b421c773b10f37851038812628302e0a91d88014f2961b1ee47391c"
    prompt = WitnessPrompt(**COMMON, step_id="generate", step_title="Generate the key in the HSM", ask="witness",
                           witness="wendy", summary=f"generated ec-p256 key walk-key-1 sha256:{fingerprint}")
    app = PaneApp(WitnessPane(prompt))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.focused is not None)
        shown = str(app.query_one(".question").render())
        assert "sha256:7a98 2fe4 7b42 1c77" in shown and fingerprint not in shown


def _witness_app():
    from console.panes.people import WitnessPane
    from vault.ceremony.prompts import WitnessPrompt

    return PaneApp(WitnessPane(WitnessPrompt(**COMMON, step_id="token", step_title="Initialise the token",
                                             ask="witness", witness="wendy", summary="token initialised")))


async def _open_deviation_form(pilot, app) -> None:
    """ctrl+d once the pane has the focus: the deviation form opens, the cursor in its first field."""
    await wait_until(pilot, lambda: app.focused is not None)
    await pilot.pause(0.2)
    await pilot.press("ctrl+d")
    await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "dev-expected")
