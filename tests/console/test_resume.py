"""Resume after an interrupted ceremony: offered at launch, through the screens (real SoftHSM).

Two generate-key ceremonies are interrupted as a crash would leave them (the engine driven
directly through the vault's public API, then dropped without an abort): one in its quorum step
(safe to repeat), one in its key-generation step (resumable by generate-key's recovery rule,
ceremonies/README.md). The console offers both at launch; the second is aborted with a reason,
the first resumed to completion.
"""

from __future__ import annotations

from textual.widgets import Button, OptionList

from homes import ledger_actions
from player import CeremonyPlayer
from tui_helpers import SIZE, until_screen, wait_until
from vault.ceremony.context import RunOptions
from vault.ceremony.definitions import find_definition
from vault.ceremony.engine import Engine
from vault.ceremony.prompts import ChoiceAnswer, ShareAnswer
from vault.secret import Secret
from vault.vault import Vault


def crash_two_ceremonies(home, shares) -> tuple[str, str]:
    """(interrupted in the quorum step, interrupted in the generate step)."""
    vault = Vault.open(home)
    try:
        ids = []
        for through_quorum in (False, True):
            engine = Engine(vault, find_definition("generate-key", home), options=RunOptions(kdf_profile="fast-for-tests"))
            engine.start()
            engine.submit(ChoiceAnswer("admin"))
            engine.submit(ChoiceAnswer("wendy"))
            assert engine.pending().step_id == "quorum"
            if through_quorum:
                for who in ("alice", "bob"):
                    engine.submit(ShareAnswer(Secret(shares[who], "share")))
                assert engine.pending().step_id == "generate"
            # the crash: nothing is aborted; the process's memory (and its token session) is gone
            if engine._gen is not None:
                engine._gen.close()
            engine.secrets.wipe()
            ids.append(engine.ceremony_id)
        return ids[0], ids[1]
    finally:
        vault.close()


async def test_unfinished_ceremonies_offered_at_launch_abort_one_resume_the_other(initialised, make_app_on, tmp_path):
    resumable, stuck = crash_two_ceremonies(initialised.home, initialised.shares)
    app = make_app_on(initialised.home)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "UnfinishedDialog")
        dialog = app.screen
        assert [u.ceremony_id for u in dialog.items] == [resumable, stuck]
        assert [u.resumable for u in dialog.items] == [True, True]
        listing = dialog.query_one(OptionList)
        assert "step 3 'quorum'" in str(listing.get_option_at_index(0).prompt)
        assert "step 4 'generate'" in str(listing.get_option_at_index(1).prompt)

        # the one interrupted while generating: abort it with a reason
        listing.highlighted = 1
        await pilot.pause()
        assert not dialog.query_one("#resume", Button).disabled
        await pilot.press("a")
        await until_screen(pilot, "ReasonDialog")
        await pilot.press(*"power cut during generation", "enter", "enter")
        await until_screen(pilot, "UnfinishedDialog")
        await wait_until(pilot, lambda: [u.ceremony_id for u in dialog.items] == [resumable], what="the list again")

        # resume the other: the wizard continues at the quorum step
        dialog.query_one(OptionList).highlighted = 0
        await pilot.pause()
        await pilot.press("r")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, dict(initialised.shares), quorum=["bob", "carol"],
                                texts={"generate.label": "resumed-key"},
                                paths={"backup.path": str(tmp_path / "resumed.ccb")})
        outcome = await player.play()
        assert outcome.ok and outcome.ceremony_id == resumable
        assert player.seen[0] == "quorum.share"  # no question of the completed steps was asked again

        def facts(vault):
            return (ledger_actions(vault, resumable), ledger_actions(vault, stuck),
                    [r for r in vault.store.ledger_rows_of_ceremony(stuck) if r.action == "ceremony.aborted"][0].details,
                    vault.store.get_key_by_label("resumed-key").state.value,
                    [u.ceremony_id for u in vault.store.unfinished_ceremonies()])

        resumed_actions, stuck_actions, abort_details, key_state, still_open = await app.bridge.run(facts)
        assert "ceremony.resumed" in resumed_actions and resumed_actions[-1] == "ceremony.completed"
        assert "key.generated" in resumed_actions and key_state == "active"
        assert stuck_actions[-1] == "ceremony.aborted" and "power cut during generation" in abort_details
        assert still_open == []
