"""The lost machine in the console: on a new home, the welcome screen offers "Rebuild this vault
from a backup bundle"; the bundle's path and two shares typed word by word rebuild the vault
(the same vault.operations.rebuild as `custodian home rebuild`), then the restore ceremony opens.

Real SoftHSM token and SQLite; the bundle is written headless from an initialised PRACTICE home
holding one AES key. After the run, nothing the console saw or wrote holds a share or a key
derived from the quorum (messages, log, the new home's files).
"""

from __future__ import annotations

import logging

from textual.widgets import Button, Input, Static

from leaks import leaks, scan_dirs
from tui_helpers import SIZE, MessageTap, share_keys, type_fast, until_screen, wait_until


def _back_up_one_key(vault, shares: list[str], bundle) -> None:
    from vault.ceremony import shareset
    from vault.operations import write_backup
    from vault.operations.keys import generate_key
    from vault.operations.quorum import activate, open_token_session
    from vault.shares import ShareCollector
    from vault.types import KeyAlgorithm

    collector = ShareCollector(shareset.public_of(vault.store, shareset.active(vault.store)), ceremony_id="test")
    for share in shares:
        collector.add(share)
    with activate(vault, collector, None, actor="test") as quorum:  # as tests/console/homes.token_labels
        with open_token_session(vault, quorum) as session:
            generate_key(vault, session, "dek-lost", KeyAlgorithm.AES_256)
            write_backup(vault, session, quorum, bundle)


async def test_a_new_home_is_rebuilt_from_a_bundle_then_restore_opens(initialised, make_app_on, tmp_path, caplog):
    from vault.vault import Vault

    bundle = tmp_path / "media" / "backup-1.ccb"
    bundle.parent.mkdir()
    vault = Vault.open(initialised.home)
    try:
        _back_up_one_key(vault, [initialised.shares["alice"], initialised.shares["bob"]], bundle)
        lost_custodians = sorted(c.name for c in vault.store.list_custodians(status=None))
    finally:
        vault.hsm().close()
        vault.close()

    caplog.set_level(logging.DEBUG)
    tap = MessageTap()
    app = make_app_on(tmp_path / "new-home")
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        assert "Rebuild this vault from a backup bundle" in str(app.screen.query_one("#welcome-rebuild", Button).label)
        await pilot.press("r")
        await until_screen(pilot, "RebuildScreen")
        screen = app.screen
        screen.query_one("#rebuild-bundle", Input).value = str(tmp_path / "media" / "nothing.ccb")
        await pilot.press("enter")
        problem = screen.query_one("#rebuild-problem", Static)
        await wait_until(pilot, lambda: "✗" in str(problem.render()), what="the missing bundle named")
        screen.query_one("#rebuild-bundle", Input).value = str(bundle)
        await pilot.press("enter")
        info = screen.query_one("#rebuild-bundle-info", Static)
        await wait_until(pilot, lambda: "format 3" in str(info.render()), what="the bundle read")
        assert "(practice)" in str(info.render())  # the mode in words, not an enum's repr
        assert "1 keys" in str(info.render())
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "share-word")

        for who in ("carol", "alice"):
            await type_fast(pilot, share_keys(initialised.shares[who].split()) + ["enter"])
            progress = screen.query_one("#rebuild-progress", Static)
            n = 1 if who == "carol" else 2
            await wait_until(pilot, lambda: f"shares entered: {n}" in str(progress.render()), what=f"{who}'s share")
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "rebuild-passphrase")
        app.copy_to_clipboard("probe")  # the screen holds shares: no copy while it is up
        assert app.clipboard != "probe"
        await pilot.press("ctrl+g")
        result = screen.query_one("#rebuild-result", Static)
        await wait_until(pilot, lambda: "Vault rebuilt" in str(result.render()), what="the rebuild")
        assert "1 keys" in str(result.render()) and "share set" in str(result.render())
        assert not screen._shares  # handed to the rebuild and wiped

        def rebuilt(vault):
            return (sorted(c.name for c in vault.store.list_custodians(status=None)),
                    [k.label for k in vault.store.list_keys()], vault.ledger.verify().ok,
                    [e.action for e in vault.ledger.events()][-1])

        custodians, keys, chain_ok, last = await app.bridge.run(rebuilt)
        assert custodians == lost_custodians and keys == ["dek-lost"] and chain_ok and last == "vault.rebuilt"

        await pilot.press("enter")  # the focused button: restore the keys onto a token
        await until_screen(pilot, "WizardScreen")
        assert app.screen.ceremony == "restore"
    everything = "\n".join([tap.joined(), caplog.text])
    assert not leaks(everything, initialised.shares)
    assert not scan_dirs([tmp_path / "new-home"], initialised.shares)


async def test_the_rebuild_is_refused_on_a_home_that_holds_a_vault(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        app.call_later(app._palette_rebuild)  # as the command palette calls it
        await until_screen(pilot, "RebuildScreen")
        problem = app.screen.query_one("#rebuild-problem", Static)
        await wait_until(pilot, lambda: "already holds a vault" in str(problem.render()), what="the refusal")
        assert app.screen.query_one("#rebuild-bundle", Input).disabled


async def test_a_share_typed_on_while_the_bundle_is_read_reaches_the_share_entry(initialised, make_app_on, tmp_path):
    """The bundle's path, Enter and a whole share in one burst (tmux send-keys, a paste, a fast
    typist): the keys that arrive while the bundle is being read are held and replayed into the
    share entry once it has the focus, none lost (console.key_hold). Before, they went into the
    path box, share words and all, and the share entry came up empty. After a refused path, what
    was typed on is dropped: it is not replayed into the path box, which shows what it holds."""
    from vault.vault import Vault

    bundle = tmp_path / "media" / "backup-1.ccb"
    bundle.parent.mkdir()
    vault = Vault.open(initialised.home)
    try:
        _back_up_one_key(vault, [initialised.shares["alice"], initialised.shares["bob"]], bundle)
    finally:
        vault.hsm().close()
        vault.close()
    words = initialised.shares["carol"].split()

    app = make_app_on(tmp_path / "new-home")
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("r")
        await until_screen(pilot, "RebuildScreen")
        screen = app.screen
        path_box = screen.query_one("#rebuild-bundle", Input)
        problem = screen.query_one("#rebuild-problem", Static)
        entry = screen.query_one("#share-entry")
        await wait_until(pilot, lambda: app.focused is path_box, what="the path box focused")

        missing = str(tmp_path / "media" / "nothing.ccb")
        await type_fast(pilot, [*missing, "enter", *share_keys(words), "enter"])
        await wait_until(pilot, lambda: "✗" in str(problem.render()), what="the missing bundle named")
        await pilot.pause()
        assert path_box.value == missing and not entry.display
        assert not app.key_hold.keys

        path_box.value = ""
        await type_fast(pilot, [*str(bundle), "enter", *share_keys(words), "enter"])
        progress = screen.query_one("#rebuild-progress", Static)
        await wait_until(pilot, lambda: "shares entered: 1" in str(progress.render()), timeout=30,
                         what="the share typed on during the read, entered")
        assert path_box.value == str(bundle)  # nothing of the share went into the path box
        assert entry.words_entered == 0 and len(screen._shares) == 1
