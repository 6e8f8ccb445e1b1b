"""CustodianApp: the shell. Modes for the top-level areas, the bridge, the safety rules.

Safety in this file: no screenshot command, action or binding (``get_system_commands``,
``action_screenshot``, ``save_screenshot``, ``deliver_screenshot`` refuse); no clipboard copy while
a screen holds secrets; the idle lock; production ceremonies refused under devtools/debug
(console.safety).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.bridge import Bridge
from console.safety import IdleClock, production_refusal
from console.theme import CUSTODIAN_THEME
from vault.errors import VaultError
from vault.types import Mode

AREAS = {
    "dashboard": ("Dashboard", "d"),
    "keys": ("Keys", "k"),
    "people": ("Custodians", "p"),
    "ledger": ("Ledger", "l"),
    "ceremonies": ("Ceremonies", "c"),
}


def _config_of(home_path: Path):
    """The home's config (None for a home that does not exist yet: it will be a practice home)."""
    from vault.home import CONFIG_NAME, load_config

    cfg = home_path / CONFIG_NAME
    return load_config(cfg) if cfg.exists() else None


class CustodianApp(App[int]):
    TITLE = "Custodian console"
    CSS_PATH = ["styles/app.tcss", "styles/wizard.tcss"]
    ENABLE_COMMAND_PALETTE = True

    # Footer labels are short so that every binding fits at 80 columns; the screen's own keys come
    # first (Textual lists the focused widget's, then the screen's, then these).
    BINDINGS = [
        Binding("f1", "help", "Help", id="help", tooltip="Help for this screen or step"),
        Binding("ctrl+q", "quit", "Quit", id="quit", tooltip="Quit the console", priority=True),
        Binding("d", "area('dashboard')", "Dash", id="area.dashboard", tooltip="Dashboard"),
        Binding("k", "area('keys')", "Keys", id="area.keys"),
        Binding("p", "area('people')", "People", id="area.people", tooltip="Custodians, administrators, witnesses"),
        Binding("l", "area('ledger')", "Ledger", id="area.ledger"),
        Binding("c", "area('ceremonies')", "Ceremonies", id="area.ceremonies"),
    ]

    def __init__(self, home: str | Path, *, clock: Callable[[], datetime] | None = None,
                 idle_timeout: float | None = None, idle_clock: IdleClock | None = None,
                 bridge: Bridge | None = None, ceremony_options=None) -> None:
        """``ceremony_options``: a ``vault.ceremony.context.RunOptions`` for every ceremony (tests);
        ``idle_clock``: the idle lock's clock (tests pass one with a fake ``monotonic``)."""
        super().__init__()
        self.home_path = Path(home)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        config = _config_of(self.home_path)
        self.vault_mode = config.mode if config is not None else Mode.PRACTICE
        self.bridge = bridge or Bridge(self.home_path)
        if idle_timeout is None:  # the home's [ceremony] idle_timeout_seconds
            idle_timeout = float(config.idle_timeout_seconds if config is not None else 300)
        self.idle = idle_clock or IdleClock(idle_timeout)
        self.ceremony_running = False
        self.active_wizard = None  # the WizardScreen while a ceremony runs
        self.ceremony_options = ceremony_options
        from console.key_hold import KeyHold

        self.key_hold = KeyHold(self)  # type-ahead across the wizard's question changes
        self.register_theme(CUSTODIAN_THEME)
        self.theme = CUSTODIAN_THEME.name

    # -- start and stop --------------------------------------------------------------------------
    async def on_mount(self) -> None:
        from console.screens import AREA_SCREENS
        from console.screens.welcome import WelcomeScreen

        for name, cls in AREA_SCREENS.items():
            self.install_screen(cls(), name=name)
        await self.push_screen("dashboard")  # painted at once; its data follows when the vault is open
        try:
            await self.bridge.open()
        except VaultError as exc:
            from console.modals.error import ErrorDialog

            await self.push_screen(ErrorDialog.from_error(exc, fatal=True))
            return
        if self.idle.timeout:
            self.set_interval(min(5.0, max(self.idle.timeout / 4, 0.05)), self._check_idle, name="idle-lock")
        self.ceremony_titles = await self.bridge.run(_ceremony_titles)
        first_run = await self.bridge.run(_first_run)
        if first_run:
            await self.push_screen(WelcomeScreen())
        await self.offer_unfinished(quiet=True)

    async def offer_unfinished(self, *, quiet: bool = False) -> None:
        """The dialog of unfinished ceremonies (resume / abort with a reason), if there are any."""
        from console.modals.unfinished import UnfinishedDialog, list_unfinished

        try:
            items = await self.bridge.run(list_unfinished)
        except VaultError as exc:
            self.notify(f"Unfinished ceremonies could not be read: {exc.message} Next: {exc.next_step}",
                        title=exc.title, severity="error")
            return
        if items:
            await self.push_screen(UnfinishedDialog(items), callback=self._resume_chosen)
        elif not quiet:
            self.notify("No unfinished ceremony.")

    def _resume_chosen(self, choice: tuple[str, str, str] | None) -> None:
        if choice:
            from console.launch import start_ceremony

            _, ceremony_id, name = choice
            start_ceremony(self, name, resume_id=ceremony_id)

    async def action_quit(self) -> None:
        if self.ceremony_running:  # (the binding is hidden then; the palette's Quit still lands here)
            self.notify("A ceremony is running: abort it first (ctrl+a on the ceremony screen).",
                        title="Quit refused", severity="warning")
            return
        self.exit(0)

    async def on_unmount(self) -> None:
        # A ceremony still running is aborted (its secrets wiped, the abort in the ledger) before
        # the vault closes; a killed console instead leaves it unfinished, offered at next start.
        wizard = self.active_wizard
        if wizard is not None:
            wizard.stop_for_exit()
            await asyncio.to_thread(self.bridge.wait_for_drives, 30)
        self.bridge.close()

    # -- areas -------------------------------------------------------------------------------------
    def action_area(self, name: str) -> None:
        if self.ceremony_running:
            self.notify("Finish or abort the ceremony before leaving its screen.", severity="warning")
            return
        if self.screen.id == name or getattr(self.screen, "name", None) == name:
            return
        # Area screens live at the bottom of the stack: pop anything above, then switch.
        while len(self.screen_stack) > 2:
            self.pop_screen()
        self.switch_screen(name)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("area", "quit") and self.ceremony_running:
            return False  # not offered while a ceremony runs (the footer keeps room for its keys)
        if action == "area" and parameters and self._is_current_area(parameters[0]):
            return False  # the area you are in is not offered (80 columns hold every other key)
        return True

    def _is_current_area(self, name: str) -> bool:
        try:
            return self.get_screen(name) is self.screen
        except KeyError:
            return False

    def action_help(self) -> None:
        from console.modals.help import HelpDialog

        text = getattr(self.screen, "help_text", None) or getattr(self.screen, "HELP", "") or "No help for this screen."
        self.push_screen(HelpDialog(getattr(self.screen, "WHERE", "Help"), text))

    # -- command palette: "area: Action" and no screenshot -----------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for name, (title, _key) in AREA_SCREENS_TITLES.items():
            yield SystemCommand(f"{title}: Open", f"Show the {title.lower()} screen",
                                lambda n=name: self.action_area(n))
        yield SystemCommand("Ledger: Verify", "Verify the whole hash chain", self._palette_verify)
        yield SystemCommand("Ceremony: Start…", "Choose a ceremony to run", lambda: self.action_area("ceremonies"))
        for name, title in getattr(self, "ceremony_titles", ()):
            yield SystemCommand(f"Ceremony: {name}", f"Start: {title}", lambda n=name: self._palette_start(n))
        yield SystemCommand("Transcript: Open…", "Read or export (md, json, pdf) a past ceremony's transcript",
                            self._palette_transcript)
        yield SystemCommand("Paper: Share card (print)…", "Write a blank SLIP-39 share card as PDF, to print",
                            self._palette_share_card)
        yield SystemCommand("Paper: Ceremony script (print)…", "Write the highlighted ceremony's script as PDF",
                            self._palette_script)
        yield SystemCommand("Ceremony: Record…", "Run a ceremony and record it as a replayable script (no secrets)",
                            self._palette_record)
        yield SystemCommand("Vault: Rebuild from a backup bundle…", "A lost machine: this new home becomes the "
                            "vault a bundle and a quorum of shares carry", self._palette_rebuild)
        yield SystemCommand("Ceremony: Unfinished…", "Resume or abort an interrupted ceremony",
                            lambda: self.run_worker(self.offer_unfinished(), group="unfinished"))
        yield SystemCommand("Console: Theme", "Change the colour theme", self.action_change_theme)
        yield SystemCommand("Console: Help", "Help for this screen", self.action_help)
        yield SystemCommand("Console: Quit", "Quit the console", self.action_quit)

    def _palette_start(self, name: str) -> None:
        if self.ceremony_running:
            self.notify("A ceremony is already running.", severity="warning")
            return
        from console.launch import start_ceremony

        start_ceremony(self, name)

    def _palette_rebuild(self) -> None:
        from console.screens.rebuild import RebuildScreen

        if self.ceremony_running:
            self.notify("A ceremony is running.", severity="warning")
            return
        self.push_screen(RebuildScreen())

    def _palette_transcript(self) -> None:
        from console.screens.transcript import PastCeremoniesDialog, TranscriptScreen

        def chosen(ceremony_id: str | None) -> None:
            if ceremony_id:
                self.push_screen(TranscriptScreen(ceremony_id))

        self.push_screen(PastCeremoniesDialog(), callback=chosen)

    def _palette_share_card(self) -> None:
        self._paper_to_file("Write a blank share card (PDF)", "share-card", _write_share_card)

    def _palette_script(self) -> None:
        name = getattr(self.screen, "highlighted_name", lambda: None)() or "init"
        self._paper_to_file(f"Write the {name} ceremony script (PDF)", f"script-{name}", _write_script, name)

    def _paper_to_file(self, question: str, stem: str, write, *args) -> None:
        from console.modals.path import NewFileDialog

        suggestion = self.home_path / "paper" / f"{stem}-{self.clock():%Y%m%d-%H%M%S}.pdf"

        async def run(path) -> None:
            try:
                written = await self.bridge.run(write, path, *args)
            except VaultError as exc:
                self.notify(f"{exc.message} Next: {exc.next_step}", title=exc.title, severity="error")
                return
            self.notify(f"Written: {written}", title="Paper")

        def chosen(path) -> None:
            if path is not None:
                self.run_worker(run(path), group="paper", exit_on_error=False)

        self.push_screen(NewFileDialog(question, suggestion, action="Write", suffixes=(".pdf",)), callback=chosen)

    def _palette_verify(self) -> None:
        self.action_area("ledger")
        self.call_later(lambda: getattr(self.screen, "action_verify", lambda: None)())

    def _palette_record(self) -> None:
        self.action_area("ceremonies")
        self.call_later(lambda: getattr(self.screen, "action_record", lambda: None)())

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        self._refuse_screenshot()

    def save_screenshot(self, *args, **kwargs) -> str:  # type: ignore[override]
        self._refuse_screenshot()
        raise PermissionError("screenshots are disabled in the custodian console")

    def deliver_screenshot(self, *args, **kwargs) -> str | None:  # type: ignore[override]
        self._refuse_screenshot()
        return None

    def _refuse_screenshot(self) -> None:
        self.notify("Screenshots are disabled: a screen may hold a share.", severity="warning")

    def copy_to_clipboard(self, text: str) -> None:
        if any(getattr(s, "HOLDS_SECRETS", False) for s in self.screen_stack):
            self.bell()
            return
        super().copy_to_clipboard(text)

    # -- safety ------------------------------------------------------------------------------------
    def ceremony_refusal(self) -> str | None:
        return production_refusal(self.vault_mode, self.features)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.idle.touch()
        if isinstance(event, events.Key) and not event.is_forwarded and await self.key_hold.offer(event):
            return  # held while the wizard changes question (console.key_hold)
        await super().on_event(event)

    def _check_idle(self) -> None:
        if not self.idle.expired:
            return
        self.idle.touch()
        for screen in reversed(self.screen_stack):
            lock = getattr(screen, "idle_lock", None)
            if lock is not None:
                lock()
                return


AREA_SCREENS_TITLES = {name: (title, key) for name, (title, key) in AREAS.items()}


def _ceremony_titles(vault) -> list[tuple[str, str]]:
    """(name, title) of every ceremony in life order, for the command palette."""
    from console.views import lifecycle_key
    from vault.ceremony.definitions import load_catalogue

    try:
        return [(d.name, d.title) for d in sorted(load_catalogue(vault.home.path).values(), key=lifecycle_key)]
    except VaultError:
        return []


def _write_share_card(vault, path):
    from console.paper import share_card_pdf

    return share_card_pdf(path, practice=vault.home.is_practice)


def _write_script(vault, path, name: str):
    from console.paper import script_pdf
    from vault.ceremony.definitions import find_definition

    return script_pdf(find_definition(name, vault.home.path), path, practice=vault.home.is_practice)


def _first_run(vault) -> bool:
    """A practice home that has no share set yet: offer the welcome walk-through."""
    return vault.home.is_practice and vault.store.active_share_set() is None


def run_tui(home: str | None) -> int:
    from vault.home import resolve_home

    app = CustodianApp(resolve_home(home))
    result = app.run()
    return int(result or 0) if app.return_code is None else app.return_code
