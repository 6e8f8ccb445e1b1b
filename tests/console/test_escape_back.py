"""Escape inside a ceremony (issue 11, item 1): it goes back one answer wherever nothing irreversible
happened since, and where it cannot it says why at once, above the question, keeping what is typed.

Played through the real wizard on an initialised PRACTICE home (real SoftHSM token): the label
typo of the issue (here ``payments-kye``; ``my key!`` itself is refused at the question now that
key names are checked there) is seen at the review, walked back to with Escape, corrected, and
the key is generated under the corrected label only.
"""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from homes import ledger_actions
from player import CeremonyPlayer, back_to_dashboard, start_from_launcher
from tui_helpers import SIZE, type_fast, until_screen, wait_until

QUORUM = ["alice", "bob"]


async def test_escape_walks_back_from_the_review_to_the_label_typo(initialised, make_app_on, tmp_path):
    app = make_app_on(initialised.home)
    seen: dict[str, object] = {}

    async def at_review(player, pane) -> bool:
        if "review" in seen:
            return False  # the second review (corrected label): confirm as usual
        seen["review"] = str(pane.query_one("#review-items", Static).render())
        w = player.wizard
        # back four answers: review -> no-backup reason -> backup -> algorithm -> label, each with Escape
        for ask in ("no-backup-reason", "backup", "algorithm", "label"):
            before = w.pane
            await player.pilot.press("escape")
            await wait_until(player.pilot, lambda: w.pane is not before and w.pane is not None
                             and w.pane.is_mounted and w.pane.prompt.ask == ask, what=f"back to {ask}")
        label_pane = w.pane
        seen["previous"] = label_pane.prompt.previous
        await wait_until(player.pilot, lambda: app.focused is not None and isinstance(app.focused, Input))
        assert app.focused.value == "payments-kye"  # the dropped answer is offered again, to correct
        # At a step's first question there is nothing to go back to: said at once, nothing lost.
        await player.pilot.press("escape")
        err = w.query_one("#prompt-error", Static)
        await wait_until(player.pilot, lambda: err.display and "No going back" in str(err.render()))
        seen["refusal"] = str(err.render())
        assert w.pane is label_pane and app.focused.value == "payments-kye"
        return True  # handled: next, the label question again (at_label types the fix)

    # The player answers "generate.label" from texts: first the typo, then (after the back) the fix.
    too_long = "signing key for the payments platform, production, region one, 2026"
    labels = iter([too_long, "payments-kye", "payments-key"])

    async def at_label(player, pane) -> bool:
        if pane.prompt.error_code:  # refused: what was typed is back in the box, to correct
            box = pane.query_one(Input)
            seen["refused_box"] = box.value
            await wait_until(player.pilot, lambda: app.focused is box)
            await player.pilot.press("backspace")  # the cursor is at its end, nothing selected
            seen["after_backspace"] = box.value
        await player._set_input(pane, next(labels))
        await player.pilot.press("enter")
        await wait_until(player.pilot, lambda: player.wizard.pane is not pane)
        return True

    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, dict(initialised.shares), quorum=QUORUM, paths={"backup.path": str(tmp_path / "b.ccb")},
                                choices={"generate.algorithm": "ec-p256", "generate.backup": "no-backup"},
                                texts={"generate.no-backup-reason": "practice only, no backup needed"},
                                hooks={"generate.review": at_review, "generate.label": at_label})
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
        await back_to_dashboard(pilot)

        def facts(vault):
            return ([k.label for k in vault.store.list_keys()], ledger_actions(vault, outcome.ceremony_id))

        labels_now, actions = await app.bridge.run(facts)
    assert seen["refused_box"] == too_long and seen["after_backspace"] == too_long[:-1]
    assert "Label: payments-kye" in seen["review"]
    assert seen["previous"] == "payments-kye"
    assert "first question" in seen["refusal"] and "ctrl+a" in seen["refusal"]
    assert labels_now == ["payments-key"]  # the typo never became a key
    assert actions.count("review.withdrawn") == 1 and actions.count("review.confirmed") == 1
    assert actions.count("key.generated") == 1


async def test_escape_after_a_share_was_entered_says_why_it_cannot_go_back(initialised, make_app_on, tmp_path):
    """At the quorum's second share the first one is held: Escape (nothing typed) is refused with
    the reason, above the question, and nothing is submitted."""
    app = make_app_on(initialised.home)
    seen: dict[str, str] = {}

    async def at_share(player, pane) -> bool:
        w = player.wizard
        if not pane.prompt.progress.shares_entered or "refusal" in seen:
            return False
        await player.pilot.press("escape")
        err = w.query_one("#prompt-error", Static)
        await wait_until(player.pilot, lambda: err.display and "No going back" in str(err.render()))
        seen["refusal"] = str(err.render())
        assert w.pane is pane and w._future is not None and not w._future.done()  # nothing was submitted
        return False

    await _generate_without_backup(app, initialised, tmp_path, "k1", {"quorum.share": at_share}, algorithm="aes-256")
    assert "a share or a passphrase was entered" in seen["refusal"], seen["refusal"]


async def test_ctrl_q_during_a_ceremony_is_answered_not_ignored(initialised, make_app_on, tmp_path):
    """Seen in the lead's tmux walk: ctrl+q at the attestation did nothing and said nothing."""
    app = make_app_on(initialised.home)
    seen: dict[str, str] = {}

    async def at_label(player, pane) -> bool:
        w = player.wizard
        await player.pilot.press("ctrl+q")
        err = w.query_one("#prompt-error", Static)
        await wait_until(player.pilot, lambda: err.display and "cannot quit" in str(err.render()))
        seen["refusal"] = str(err.render())
        assert app.is_running and w.pane is pane  # still there, nothing submitted
        return False  # then answered as usual

    await _generate_without_backup(app, initialised, tmp_path, "quit-test", {"generate.label": at_label})
    assert "ctrl+a" in seen["refusal"]


async def test_a_refused_attestation_passphrase_keeps_the_choice_and_asks_only_for_the_passphrase(
        initialised, make_app_on, tmp_path):
    """Seen in the lead's tmux walk: after a mistyped passphrase the attestation came back blank
    (statement unread, nothing chosen), so the passphrase typed again went nowhere."""
    from console.panes.people import AttestationPane

    app = make_app_on(initialised.home)
    seen: dict[str, object] = {}

    async def at_attest(player, pane) -> bool:
        if "again" in seen:
            return False
        pilot, w = player.pilot, player.wizard
        await pilot.press("end")
        await wait_until(pilot, lambda: pane.read_to_end, what="the statement's end")
        pane.query_one("#decision").focus()
        await pilot.press("down", "enter")  # "I do not agree"
        await wait_until(pilot, lambda: pane.decision is False, what="the decision")
        await pilot.press("tab", *"seal number differs", "enter")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "attest-pp")
        await type_fast(pilot, [*"practice-admin-passfrase", "enter"])
        await wait_until(pilot, lambda: isinstance(w.pane, AttestationPane) and w.pane is not pane
                         and w.pane.is_mounted and w.pane.prompt.error_code, what="the attestation asked again")
        again = w.pane
        await wait_until(pilot, lambda: again.read_to_end and app.focused is not None
                         and app.focused.id == "attest-pp", what="the passphrase box, statement still read")
        seen["again"] = (again.decision, again.query_one("#comment").value, again.query_one("#attest-pp").value)
        await type_fast(pilot, [*"practice-admin-passphrase", "enter"])
        await wait_until(pilot, lambda: w.pane is not again, what="the attestation to be taken")
        return True

    await _generate_without_backup(app, initialised, tmp_path, "reask-test", {"attest.attest:admin": at_attest})
    assert seen["again"] == (False, "seal number differs", "")  # the choice kept, no passphrase kept


async def _generate_without_backup(app, initialised, tmp_path, label: str, hooks: dict, *, algorithm: str = "ec-p256"):
    """generate-key from the launcher, no backup, played by the keyboard with ``hooks``; it completes."""
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, dict(initialised.shares), quorum=QUORUM, paths={"backup.path": str(tmp_path / "b.ccb")},
                                texts={"generate.label": label, "generate.no-backup-reason": "practice only, no backup needed"},
                                choices={"generate.algorithm": algorithm, "generate.backup": "no-backup"}, hooks=hooks)
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
    return outcome
