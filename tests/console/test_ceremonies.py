"""Whole ceremonies driven through the wizard's screens on a PRACTICE home (real SoftHSM, SQLite).

Also the no-leak check: every message the app processed during a ceremony is scanned for the
practice passphrases and for any three consecutive words of any share.
"""

from __future__ import annotations

import pytest

from console.practice import PRACTICE_PEOPLE
from player import CeremonyPlayer
from tui_helpers import SIZE, MessageTap, until_screen, wait_until
from vault.ceremony.context import RunOptions

FAST = RunOptions(kdf_profile="fast-for-tests")


def leaks(text: str, shares: dict[str, str]) -> list[str]:
    found = [pp for pp in PRACTICE_PEOPLE.values() if pp in text]
    for who, share in shares.items():
        words = share.split()
        for i in range(2, len(words) - 2):  # the first two words only name the set
            if " ".join(words[i:i + 3]) in text:
                found.append(f"share of {who}")
                break
    return found


async def run_init(pilot, app) -> CeremonyPlayer:
    await until_screen(pilot, "WelcomeScreen")
    await pilot.press("i")
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, confirms={"passphrase": False})
    app.init_outcome = await player.play()
    return player


async def test_init_2_of_3_through_the_screens(make_app, caplog):
    tap = MessageTap()
    app = make_app(ceremony_options=FAST)
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        player = await run_init(pilot, app)
        outcome = app.init_outcome
        wizard = player.wizard
        notices = [str(e) for e in wizard.event_log]
        if not outcome.ok and outcome.step_id == "new-quorum":
            pytest.xfail(f"domain not finished yet: {outcome.one_line()}")
        assert outcome.ok, outcome.one_line()
        assert set(player.shares) == {"alice", "bob", "carol"}
        assert any(k.startswith("distribute.verify:") for k in player.seen)

        def facts(vault):
            active = vault.store.active_share_set()
            holders = vault.store.share_holders(active.id)
            return (active.describe(), sorted(h.custodian_name for h in holders),
                    all(h.verified_at for h in holders), vault.ledger.verify().ok,
                    vault.hsm().find_token(vault.token).initialised)

        describe, names, verified, ledger_ok, token_ok = await app.bridge.run(facts)
        assert describe == "2-of-3" and names == ["alice", "bob", "carol"] and verified
        assert ledger_ok and token_ok
    text = tap.joined() + "\n".join(notices) + caplog.text
    assert not leaks(text, player.shares)


async def test_abort_mid_ceremony_records_reason(make_app):
    app = make_app(ceremony_options=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("i")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot)
        await player.step()  # the room checklist
        await wait_until(pilot, lambda: player.wizard.pane is not None and player.wizard._future is not None)
        await pilot.press("ctrl+a")
        await until_screen(pilot, "ReasonDialog")
        await pilot.press(*"practice abort", "enter")
        await wait_until(pilot, lambda: player.wizard.outcome is not None)
        assert player.wizard.outcome.status.value == "aborted"
        assert player.wizard.outcome.message == "practice abort"
        assert not app.ceremony_running

        def last(vault):
            rows = list(vault.store.ledger_rows())
            return rows[-1].action, rows[-1].details

        action, details = await app.bridge.run(last)
        assert action == "ceremony.aborted" and "practice abort" in details
