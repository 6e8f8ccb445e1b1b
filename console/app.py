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

    BINDINGS = [
        Binding("d", "area('dashboard')", "Dashboard", id="area.dashboard"),
        Binding("k", "area('keys')", "Keys", id="area.keys"),
        Binding("p", "area('people')", "Custodians", id="area.people"),
        Binding("l", "area('ledger')", "Ledger", id="area.ledger"),
        Binding("c", "area('ceremonies')", "Ceremonies", id="area.ceremonies"),
        Binding("f1", "help", "Help", id="help", tooltip="Help for this screen"),
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
        if self.ceremony_running:
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
        if action == "area" and self.ceremony_running:
            return None  # shown dimmed while a ceremony runs
        return True

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
        yield SystemCommand("Ceremony: Record…", "Run a ceremony and record it as a replayable script (no secrets)",
                            self._palette_record)
        yield SystemCommand("Ceremony: Unfinished…", "Resume or abort an interrupted ceremony",
                            lambda: self.run_worker(self.offer_unfinished(), group="unfinished"))
        yield SystemCommand("Console: Theme", "Change the colour theme", self.action_change_theme)
        yield SystemCommand("Console: Help", "Help for this screen", self.action_help)
        yield SystemCommand("Console: Quit", "Quit the console", self.action_quit)

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


def _first_run(vault) -> bool:
    """A practice home that has no share set yet: offer the welcome walk-through."""
    return vault.home.is_practice and vault.store.active_share_set() is None


def run_tui(home: str | None) -> int:
    from vault.home import resolve_home

    app = CustodianApp(resolve_home(home))
    result = app.run()
    return int(result or 0) if app.return_code is None else app.return_code
