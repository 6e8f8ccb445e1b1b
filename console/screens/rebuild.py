"""Rebuild a lost vault from a backup bundle: the console's road to ``custodian home rebuild``.

On a home that holds no vault yet (a new machine), the bundle's path, then a quorum of shares
typed word by word in the share-entry widget (the quorum ceremonies' own), then the same
``vault.operations.rebuild.rebuild_from_bundle`` as the CLI, on the vault's owner thread with
the home's database closed meanwhile (``Bridge.with_vault_closed``). Then the restore ceremony
puts the keys onto a fresh token.

Secrets: the shares live in the widget while typed, then as ``Secret`` values in this screen
until the rebuild has run (or the screen closes, or a share is refused), and are wiped then.
Nothing here shows, posts or writes a word of a share; the screen refuses selection and copies.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Static

from console.panes.shares import SHARE_WORDS
from console.screens.base import VaultScreen
from console.widgets.secret_input import SecretInput
from console.widgets.share_entry import ShareEntry
from vault.errors import VaultError
from vault.secret import Secret

HELP = """\
Rebuild a lost vault from a backup bundle

When the vault's machine was lost with its HSM, a backup bundle (format 2 or later) and a quorum
of the custodians' shares bring back its database and ledger on this new home: custodians, the
share set, key records, ceremonies, and the ledger, continued and verified against the bundle.

1. Give the bundle's path (enter).
2. Each custodian of the quorum types their share, word by word; the others look away.
   If the share set has a SLIP-39 passphrase, type it too.
3. The rebuild checks everything before it replaces anything: the shares against the bundle,
   the MAC, the ledger against the bundle's head, the bundle against its own metadata.
4. Then run the restore ceremony: it puts the keys onto a fresh token.

Nothing is written to the token by the rebuild. The same as `custodian home rebuild`.
"""


def _inspect(path: Path):
    from vault.backup.format import inspect_bundle

    return inspect_bundle(path)


def _rebuild(home: Path, bundle: Path, shares: list[Secret], passphrase: Secret | None):
    from vault.operations.rebuild import rebuild_from_bundle

    return rebuild_from_bundle(home, bundle, shares, passphrase)


class RebuildScreen(VaultScreen):
    WHERE = "Rebuild from a backup"
    HELP = HELP
    HOLDS_SECRETS = True
    KEYS_IN_ORDER = True  # console.key_hold: a share typed on after the path's enter waits for the entry
    BINDINGS = [
        Binding("ctrl+g", "rebuild", "Rebuild", id="rebuild.go", tooltip="Rebuild with the shares entered"),
        Binding("escape", "close", "Back", id="rebuild.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shares: list[Secret] = []
        self._refs: set[tuple[int, int]] = set()
        self._needed: int | None = None  # a one-group set's member threshold, from the first share
        self._identifier: int | None = None  # the bundle's SLIP-39 identifier
        self._bundle: Path | None = None
        self._busy = False
        self._holding = False  # keys are held for the share entry while the bundle is read
        self.rebuilt = None  # the RebuildResult, once done

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rebuild"):
            yield Static("Rebuild this vault from a backup bundle", classes="question")
            yield Static("The bundle (format 2 or later) on the removable medium:", classes="hint")
            yield Input(placeholder="/media/backup/backup-1.ccb", id="rebuild-bundle")
            yield Static("", id="rebuild-bundle-info")
            yield Static("", id="rebuild-progress")
            entry = ShareEntry(word_count=SHARE_WORDS, id="share-entry",
                               title="Each custodian of the quorum: type your share. Others look away.")
            entry.display = False  # until the bundle is read
            yield entry
            yield Static("SLIP-39 passphrase of the share set (leave empty if it has none):", classes="hint")
            yield SecretInput(kind="passphrase", take_on_enter=False, id="rebuild-passphrase")
            yield Static("", classes="pane-problem", id="rebuild-problem")
            yield Static("", id="rebuild-result")
        with Horizontal(classes="buttons"):
            yield Button("Rebuild (ctrl+g)", id="go", variant="primary", disabled=True)
            yield Button("Restore the keys onto a token", id="restore", disabled=True)
            yield Button("Back (esc)", id="back")

    def on_mount(self) -> None:
        self.query_one("#rebuild-bundle", Input).focus()
        self.run_worker(self._check_home(), exclusive=True, group="rebuild", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._holding:  # held for the share entry: never for the screen that comes next
            self.app.key_hold.drop()
        self._wipe()

    # -- state ------------------------------------------------------------------------------------
    def _problem(self, text: str) -> None:
        self.query_one("#rebuild-problem", Static).update(text)

    def _wipe(self) -> None:
        for share in self._shares:
            share.wipe()
        self._shares.clear()
        self._refs.clear()

    def _progress(self) -> None:
        need = f" of {self._needed} needed" if self._needed else ""
        self.query_one("#rebuild-progress", Static).update(f"shares entered: {len(self._shares)}{need}")
        self.query_one("#go", Button).disabled = self._busy or not self._shares or self._bundle is None

    async def _check_home(self) -> None:
        from vault.operations.rebuild import is_new_home

        if not await self.app.bridge.run(is_new_home):
            self._problem(f"✗ The home {self.app.home_path} already holds a vault; a vault is rebuilt only into a "
                          "new home. Next: start the console with a new home (--home DIR) and rebuild there.")
            self.query_one("#rebuild-bundle", Input).disabled = True

    # -- the bundle ---------------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "rebuild-bundle":
            # Keys typed on while the bundle is read (the first share's words, sent in one burst or
            # typed fast) are held, then replayed into the share entry once it has the focus
            # (console.key_hold, as between a ceremony's questions); before, they went into the
            # path box, or nowhere.
            self._holding = True
            self.app.key_hold.start()
            self.run_worker(self._take_bundle(event.value.strip()), exclusive=True, group="rebuild",
                            exit_on_error=False)

    async def _take_bundle(self, text: str) -> None:
        hold = self.app.key_hold
        try:
            taken = await self._read_bundle(text)
        except BaseException:
            hold.drop()
            raise
        finally:
            self._holding = False
        if taken:
            hold.release()
        else:
            # Refused: what was typed on was meant for the share entry and may be share words; it
            # is not replayed into the path box, which shows what it holds.
            hold.drop()

    async def _read_bundle(self, text: str) -> bool:
        """Read the bundle's header; True once the share entry is shown and has the focus."""
        if not text:
            self._problem("✗ Give the bundle's path. Next: type it and press enter.")
            return False
        path = Path(text).expanduser()
        try:
            contents = await self.app.bridge.call(_inspect, path)
        except VaultError as exc:
            self._problem(f"✗ {exc.message} Next: {exc.next_step}")
            return False
        header = contents.header
        if not header.has_metadata:
            self._problem(f"✗ {path} is a bundle of format {header.format_version}: it carries no vault metadata, so "
                          "it cannot rebuild a vault. Next: give a newer bundle (any backup written since format 2).")
            return False
        self._bundle, self._identifier = path.resolve(), header.slip39_identifier
        self._problem("")
        self.query_one("#rebuild-bundle-info", Static).update(
            f"✓ {path.name}: format {header.format_version}, written {header.created_at} ({header.mode.value}), "
            f"{header.key_count} keys, ledger up to event #{header.ledger_seq}, share set with SLIP-39 identifier "
            f"{header.slip39_identifier}.")
        entry = self.query_one("#share-entry", ShareEntry)
        entry.display = True
        self.set_focus(entry.query_one("#share-word"))  # at once, not a refresh later: keys are replayed next
        self._progress()
        return True

    # -- the shares ---------------------------------------------------------------------------------
    def on_share_entry_completed(self, event: ShareEntry.Completed) -> None:
        from vault.shares.parse import parse_share

        event.stop()
        try:
            parsed = parse_share(event.share, SHARE_WORDS)
        except VaultError as exc:
            event.share.wipe()
            self._problem(f"✗ {exc.message} Next: {exc.next_step}")
            return
        ref, identifier = (parsed.ref.group, parsed.ref.member), parsed.identifier
        needed = parsed.member_threshold if parsed.group_threshold == 1 else None
        parsed.wipe()
        if identifier != self._identifier:
            event.share.wipe()
            self._problem(f"✗ This share is of another share set (SLIP-39 identifier {identifier}); the bundle was "
                          f"written under identifier {self._identifier}. Next: type a share of that set.")
            return
        if ref in self._refs:
            event.share.wipe()
            self._problem("✗ This share was already entered. Next: the next custodian types theirs.")
            return
        self._refs.add(ref)
        self._shares.append(event.share)
        self._needed = needed
        self._problem("")
        self._progress()
        if needed is not None and len(self._shares) >= needed:
            self.query_one("#rebuild-passphrase", SecretInput).focus()
            self.query_one("#rebuild-problem", Static).update(
                "Enough shares: type the SLIP-39 passphrase if the set has one, then ctrl+g (Rebuild).")

    def on_secret_input_enter_pressed(self, event: SecretInput.EnterPressed) -> None:
        event.stop()
        self.action_rebuild()

    # -- the rebuild ----------------------------------------------------------------------------------
    def action_rebuild(self) -> None:
        if self._busy or not self._shares or self._bundle is None or self.rebuilt is not None:
            return
        box = self.query_one("#rebuild-passphrase", SecretInput)
        passphrase = box.take() if box.value else None
        shares, self._shares = list(self._shares), []
        self._refs.clear()
        self._busy = True
        self._progress()
        self.query_one("#rebuild-problem", Static).update("Rebuilding: checking the bundle and loading the metadata…")
        self.run_worker(self._run(self._bundle, shares, passphrase), exclusive=True, group="rebuild",
                        exit_on_error=False)

    async def _run(self, bundle: Path, shares: list[Secret], passphrase: Secret | None) -> None:
        try:
            result = await self.app.bridge.with_vault_closed(_rebuild, bundle, shares, passphrase)
        except VaultError as exc:
            self._problem(f"✗ {exc.message} Next: {exc.next_step} (The home was left as it was; type the shares "
                          "again.)")
            return
        finally:
            for share in shares:
                share.wipe()
            if passphrase is not None:
                passphrase.wipe()
            self._busy = False
            self._progress()
        self.rebuilt = result
        ended = (f"\nEnded as aborted (their end is known only to the lost machine): {', '.join(result.ceremonies_ended)}"
                 if result.ceremonies_ended else "")
        ended += "".join(f"\n{line[0].upper()}{line[1:]}." for line in result.settings)
        self._problem("")
        self.query_one("#share-entry", ShareEntry).display = False
        self.query_one("#rebuild-result", Static).update(
            f"✓ Vault rebuilt from {result.bundle} (sha256 {result.sha256[:16]}…): {result.keys} keys, "
            f"{result.custodians} custodians, share set {result.share_set}, ledger continued after event "
            f"#{result.ledger_seq}.{ended}\nNext: restore the keys onto a fresh token (the restore ceremony).")
        self.query_one("#go", Button).disabled = True
        restore = self.query_one("#restore", Button)
        restore.disabled = False
        restore.focus()

    # -- buttons ---------------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "go":
            self.action_rebuild()
        elif event.button.id == "restore":
            self.action_restore()
        else:
            self.action_close()

    def action_restore(self) -> None:
        from console.launch import start_ceremony

        if self.rebuilt is None:
            return
        self.app.pop_screen()
        start_ceremony(self.app, "restore")

    def action_close(self) -> None:
        if self._busy:
            self.notify("The rebuild is running; it cannot be left now.", severity="warning")
            return
        self._wipe()
        self.app.pop_screen()
