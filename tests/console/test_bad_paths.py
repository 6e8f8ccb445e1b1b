"""The wrong things custodians do, through the screens, on an initialised PRACTICE home (real
SoftHSM token): a wrong word, a foreign share, a duplicate share, a wrong passphrase, an abort in
the middle of the quorum, and the idle lock with a partial quorum. Each refusal re-prompts with a
precise message; nothing of a refused share is kept; an abort or the idle lock wipes the shares
entered so far. The whole generate-key run is also scanned for secrets in every message, log
line and notification.
"""

from __future__ import annotations

import logging
import os

from shamir_mnemonic.wordlist import WORDLIST

from console.modals.lock import LockScreen
from console.safety import IdleClock
from console.widgets.secret_input import SecretInput
from console.widgets.share_entry import ShareEntry
from homes import ledger_actions
from leaks import leaks
from player import CeremonyPlayer, start_from_launcher
from tui_helpers import SIZE, MessageTap, share_keys, type_fast, until_screen, wait_until
from vault.ceremony import events as ev
from vault.secret import Secret
from vault.vault import Vault
from vault.shares import QuorumPolicy, split

WRONG_PASSPHRASE = "practice-not-the-passphrase"


async def to_quorum_prompt(pilot, name: str, prepared) -> CeremonyPlayer:
    await start_from_launcher(pilot, name)
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, dict(prepared.shares), quorum=["alice", "bob"])
    while True:
        await wait_until(pilot, player._ready, timeout=60, what="a prompt")
        if player.wizard.prompt.KIND == "share-entry":
            return player
        await player.step()


def shares_entered(player) -> int:
    return player.wizard.prompt.progress.shares_entered


async def enter_share(pilot, player, words: list[str], *, submit: bool = True) -> None:
    await type_fast(pilot, share_keys(words) + (["enter"] if submit else []))


async def reprompted_with(pilot, player, code: str) -> None:
    w = player.wizard
    await wait_until(pilot, lambda: w.prompt.error_code == code and player._ready(), what=f"the {code} re-prompt")
    shown = str(w.query_one("#prompt-error").render())
    assert code in shown and w.query_one("#prompt-error").display


async def test_wrong_word_foreign_duplicate_wrong_passphrase_and_no_secret_leaks(initialised, make_app_on, tmp_path,
                                                                                 caplog):
    caplog.set_level(logging.DEBUG)
    tap = MessageTap()
    app = make_app_on(initialised.home)
    foreign = split(Secret(os.urandom(32), "qs"), QuorumPolicy.simple(2, 3), None).shares[0][1].reveal_text()
    alice, bob = (initialised.shares[c].split() for c in ("alice", "bob"))
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        await until_screen(pilot, "DashboardScreen")
        player = await to_quorum_prompt(pilot, "generate-key", initialised)
        w = player.wizard

        # a foreign share: the checksum is fine, the widget warns, the engine refuses it
        await enter_share(pilot, player, foreign.split())
        await reprompted_with(pilot, player, "SHARE_FOREIGN")
        assert shares_entered(player) == 0

        # alice's share, then alice's share again
        await enter_share(pilot, player, alice)
        await wait_until(pilot, lambda: player._ready() and shares_entered(player) == 1, what="alice's share")
        await enter_share(pilot, player, alice)
        await reprompted_with(pilot, player, "SHARE_DUPLICATE")
        assert shares_entered(player) == 1

        # a wrong word: not a SLIP-39 word is marked at once and backspace takes it back ...
        entry = w.pane.query_one(ShareEntry)
        await type_fast(pilot, [*"qqqz", "space"])
        assert entry.marks == [False] and "not a SLIP-39 word" in entry.feedback
        await type_fast(pilot, ["backspace"])
        assert entry.words_entered == 0
        # ... and a valid word in the wrong place fails the checksum: enter does not submit
        misread = list(bob)
        misread[7] = next(x for x in WORDLIST if x != bob[7] and x[:4] != bob[7][:4])
        await enter_share(pilot, player, misread)
        assert entry.words_entered == 33 and "checksum" in entry.feedback.lower() and "✗" in entry.feedback
        assert w.pane.query_one(ShareEntry) is entry and shares_entered(player) == 1  # nothing reached the engine
        await type_fast(pilot, ["ctrl+u"])
        assert entry.words_entered == 0

        # bob's share, typed right: the quorum is activated
        await enter_share(pilot, player, bob)
        await wait_until(pilot, lambda: player._ready() and w.prompt.KIND != "share-entry", what="the next step")

        # the rest of generate-key; admin first types a wrong passphrase at the attestation
        tried = []

        async def wrong_then_right(player, pane) -> bool:
            if tried:
                return False
            tried.append(True)
            pane.query_one("#statement-scroll").scroll_end(animate=False)
            pane.query_one("#agree").value = True
            await wait_until(pilot, lambda: pane.read_to_end and pane.decision is True, what="read and chosen")
            box = pane.query_one(SecretInput)
            box.value = WRONG_PASSPHRASE
            box.focus()
            await type_fast(pilot, ["enter"])
            await reprompted_with(pilot, player, "PASSPHRASE")
            return True

        player.texts = {"generate.label": "bad-paths-key"}
        player.paths = {"backup.path": str(tmp_path / "bad-paths.ccb")}
        player.hooks = {"attest.attest:admin": wrong_then_right}
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
        rejected = [e.code for e in w.event_log if isinstance(e, ev.AnswerRejected)]
        assert rejected == ["SHARE_FOREIGN", "SHARE_DUPLICATE", "PASSPHRASE"]
        actions = await app.bridge.run(ledger_actions, outcome.ceremony_id)
        assert "key.generated" in actions and actions[-1] == "ceremony.completed"
        log_text = "\n".join(w.log_lines)
        notices = list(w.notice_log)  # notices sit in the wizard's layout, never in toasts

    # no secret in any message the app processed (notifications are Notify messages), any log
    # line, or the wizard's own log
    assert notices, "the run showed no notice to scan"
    everything = "\n".join([tap.joined(), caplog.text, log_text, *notices])
    assert not leaks(everything, initialised.shares, extra=[WRONG_PASSPHRASE, foreign])


async def test_abort_mid_quorum_wipes_the_partial_quorum(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        player = await to_quorum_prompt(pilot, "generate-key", initialised)
        w = player.wizard
        await enter_share(pilot, player, initialised.shares["carol"].split())
        await wait_until(pilot, lambda: player._ready() and shares_entered(player) == 1, what="carol's share")
        collector = await app.bridge.call(lambda: w.engine.secrets.collector)
        assert len(collector.entered) == 1
        await type_fast(pilot, share_keys(initialised.shares["alice"].split()[:5]))  # half-typed
        await pilot.press("ctrl+a")
        await until_screen(pilot, "ReasonDialog")
        await pilot.press(*"custodian called away", "enter", "enter")
        await wait_until(pilot, lambda: w.outcome is not None, what="the abort")
        assert w.outcome.status.value == "aborted" and w.outcome.message == "custodian called away"
        held = await app.bridge.call(lambda: (w.engine.secrets.collector, w.engine.secrets.quorum))
        assert held == (None, None) and collector.entered == ()  # the partial quorum is gone
        assert not w.query(ShareEntry)  # nothing typed stays on screen

        def last(vault):
            row = list(vault.store.ledger_rows())[-1]
            return row.action, row.ceremony_id, row.details

        action, ceremony_id, details = await app.bridge.run(last)
        assert action == "ceremony.aborted" and ceremony_id == w.outcome.ceremony_id
        assert "custodian called away" in details and '"quorum"' in details


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_idle_lock_wipes_a_partial_quorum(initialised, make_app_on):
    clock = FakeMonotonic()
    app = make_app_on(initialised.home, idle_clock=IdleClock(120, clock))
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        player = await to_quorum_prompt(pilot, "generate-key", initialised)
        w = player.wizard
        await enter_share(pilot, player, initialised.shares["bob"].split())
        await wait_until(pilot, lambda: player._ready() and shares_entered(player) == 1, what="bob's share")
        collector = await app.bridge.call(lambda: w.engine.secrets.collector)
        await type_fast(pilot, share_keys(initialised.shares["carol"].split()[:4]))  # carol has begun typing
        entry = w.pane.query_one(ShareEntry)
        assert entry.words_entered == 4

        clock.now += 119
        app.call_next(app._check_idle)  # what the app's idle timer does, on the app's loop
        await pilot.pause()
        assert not isinstance(app.screen, LockScreen) and len(collector.entered) == 1

        clock.now += 2  # two minutes without a key press
        app.call_next(app._check_idle)
        await until_screen(pilot, "LockScreen")
        assert "wiped" in str(app.screen.query_one("#lock-what").render())
        await wait_until(pilot, lambda: w.prompt.progress.shares_entered == 0 and w.pane is not None,
                         what="the quorum prompt again, empty")
        assert collector.entered == () and entry.words_entered == 0
        assert any(isinstance(e, ev.QuorumWiped) for e in w.event_log)
        assert w.outcome is None  # the ceremony goes on: the quorum starts again

        await pilot.press("enter")  # unlock
        await until_screen(pilot, "WizardScreen")
        ceremony_id = w.engine.ceremony_id

    # closing the console in the middle of a ceremony aborts it (secrets wiped, reason recorded)
    vault = Vault.open(initialised.home)
    try:
        last = list(vault.store.ledger_rows_of_ceremony(ceremony_id))[-1]
        unfinished = vault.store.unfinished_ceremonies()
    finally:
        vault.close()
    assert last.action == "ceremony.aborted" and "the console was closed during the ceremony" in last.details
    assert unfinished == []
