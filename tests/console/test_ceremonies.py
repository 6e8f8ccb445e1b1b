"""Whole ceremonies driven through the wizard's screens on a PRACTICE home (real SoftHSM, SQLite).

Also the no-leak check (leaks.py): every message the app processed during the ceremony, every
log line and the wizard's log are scanned for the practice passphrases, any three consecutive
words of any share, the quorum secret, the backup KEK and MAC key (hex) and the token's PINs.
"""

from __future__ import annotations

import hashlib
import logging

from homes import ledger_actions, token_labels
from leaks import leaks, scan_dirs
from player import CeremonyPlayer
from tui_helpers import SIZE, MessageTap, until_screen, wait_until
from vault.ceremony.context import RunOptions

FAST = RunOptions(kdf_profile="fast-for-tests")


async def run_init(pilot, app) -> CeremonyPlayer:
    await until_screen(pilot, "WelcomeScreen")
    await pilot.press("i")
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, confirms={"passphrase": False})
    app.init_outcome = await player.play()
    return player


async def test_init_2_of_3_through_the_screens(make_app, caplog):
    """The newcomer's path: welcome → init, every prompt answered with the keyboard; each share
    revealed to its custodian alone and typed back before the next one; then the token, the
    database and the ledger; and no secret in any message, log line or notification."""
    caplog.set_level(logging.DEBUG)
    tap = MessageTap()
    app = make_app(ceremony_options=FAST)
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        player = await run_init(pilot, app)
        outcome = app.init_outcome
        wizard = player.wizard
        assert outcome.ok, outcome.one_line()
        assert set(player.shares) == {"alice", "bob", "carol"}
        reveals = [k for k in player.seen if k.startswith("distribute.")]
        assert reveals == [f"distribute.{a}:{c}" for c in ("alice", "bob", "carol")
                           for a in ("ready", "reveal", "verify")] + ["distribute.witness"]
        log_text = "\n".join(wizard.log_lines)

        def facts(vault):
            active = vault.store.active_share_set()
            holders = vault.store.share_holders(active.id)
            info = vault.hsm().find_token(vault.token)
            return (active.describe(), sorted(h.custodian_name for h in holders), all(h.verified_at for h in holders),
                    sorted((c.name, c.role.value) for c in vault.store.list_custodians()),
                    vault.store.get_setting("token.serial") == info.serial, info.initialised,
                    ledger_actions(vault, outcome.ceremony_id), vault.ledger.verify().ok)

        describe, names, verified, people, serial_ok, token_ok, actions, chain_ok = await app.bridge.run(facts)
        assert describe == "2-of-3" and names == ["alice", "bob", "carol"] and verified
        assert people == [("admin", "administrator"), ("alice", "custodian"), ("bob", "custodian"),
                          ("carol", "custodian"), ("wendy", "witness")]
        assert serial_ok and token_ok and chain_ok
        assert actions[0] == "ceremony.started" and actions[-1] == "ceremony.completed"
        for action in ("custodian.enrolled", "policy.chosen", "shares.distributed", "share-set.committed",
                       "ceremony.attested"):
            assert action in actions, action
        assert actions.count("ceremony.attested") == 5
        # every enrollment's fingerprint stayed on screen until it was confirmed as read (issue 11:
        # some were replaced before they could be read), with its PGP words; and the seal
        shown = dict(player.read_aloud)

        def fingerprints(vault):
            from vault.identity import public_key_fingerprint

            return {c.name: public_key_fingerprint(c.public_key_pem) for c in vault.store.list_custodians()}

        for name, fingerprint in (await app.bridge.run(fingerprints)).items():
            text = shown[f"{name}'s key fingerprint"]
            assert text.startswith(fingerprint + " (") and len(text.split("(")[1].split()) == 8, text
        assert "Closing ledger head" in shown
        # the token opens with the PIN derived from any 2 of the 3 shares, and holds nothing yet
        assert await app.bridge.run(token_labels, [player.shares["carol"], player.shares["alice"]]) == []
        # the dashboard now shows the quorum
        await pilot.press("enter")
        await until_screen(pilot, "DashboardScreen")
        await wait_until(pilot, lambda: "2-of-3" in app.screen.view.share_set, what="the dashboard's quorum")
    everything = "\n".join([tap.joined(), caplog.text, log_text])
    assert not leaks(everything, player.shares)
    assert not scan_dirs([app.home_path], player.shares)  # database, WAL, logs, config, token files


async def test_the_abort_key_pressed_by_mistake_while_typing_loses_nothing(make_app):
    """ctrl+a is "start of line" in most shells: someone who presses it mid-word and types on
    blindly, ending with Enter, must still be in the ceremony, not aborted with their text."""
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
        await pilot.press(*"typed on", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ReasonDialog" and player.wizard.outcome is None
        assert "Escape to go back" in str(app.screen.query_one("#reason-next").render())
        await pilot.press("escape")
        await until_screen(pilot, "WizardScreen")
        assert player.wizard.outcome is None and app.ceremony_running
        assert player.wizard._future is not None and not player.wizard._future.done()


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
        await pilot.press(*"practice abort", "enter", "enter")
        await wait_until(pilot, lambda: player.wizard.outcome is not None)
        assert player.wizard.outcome.status.value == "aborted"
        assert player.wizard.outcome.message == "practice abort"
        assert not app.ceremony_running

        def last(vault):
            rows = list(vault.store.ledger_rows())
            return rows[-1].action, rows[-1].details

        action, details = await app.bridge.run(last)
        assert action == "ceremony.aborted" and "practice abort" in details


async def test_what_runs_is_read_aloud_at_the_start_above_the_first_question(make_app):
    """The definition's SHA-256 and the console's version and installed files' SHA-256, in hex
    groups and PGP words, in the first step's read-aloud box (above the question, not over it)."""
    from console.readable import group_hex
    from vault.ceremony.definitions import load_catalogue
    from vault.pgpwords import words_for
    from vault.runtime_identity import package_identity

    app = make_app(ceremony_options=FAST)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("i")
        await until_screen(pilot, "WizardScreen")
        wizard = app.screen
        await wait_until(pilot, lambda: wizard.pane is not None, what="the first question")
        text = str(wizard.query_one("#read-aloud").render())
        ident = package_identity()
        definition = hashlib.sha256(load_catalogue(app.home_path)["init"].source.read_bytes()).hexdigest()
        for title, digest in (("Ceremony definition init: SHA-256", definition),
                              (f"Console {ident.version}: SHA-256 of its installed files", ident.sha256)):
            assert f"READ ALOUD — {title}: {group_hex(digest)}" in text
            assert " ".join(words_for(bytes.fromhex(digest))) in " ".join(text.split())
        assert wizard.query_one("#read-aloud-box").display
