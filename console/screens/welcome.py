"""First run: a practice vault was just created; offer the init ceremony and the practice people,
or rebuilding a lost vault from a backup bundle (console.screens.rebuild)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from console.practice import practice_sheet
from console.screens.base import VaultScreen

WELCOME = """\
Welcome to the custodian console

This is a PRACTICE vault: a software token in the console's home, practice secrets only. You can walk through a whole key lifecycle alone, playing every custodian and the witness:

1. init — enroll custodians and a witness, set the quorum (e.g. 2-of-3), initialise the token, reveal each custodian's share one at a time and have it typed back;
2. generate-key — activate the quorum with 2 shares and generate a master key in the HSM;
3. backup — write an encrypted backup bundle and check it reads back;
4. drill — restore the backup into a scratch token and compare every key;
5. rotate — the key's next version becomes active and the old one is deactivated;
6. destroy — destroy the old version, typing its label to confirm (a key still active is deactivated first, in the same reviewed step; the backups still holding it are listed).

A vault whose machine was lost? "Rebuild this vault from a backup bundle" (r) brings back its custodians, share set, keys and ledger from a bundle and a quorum of shares; the restore ceremony then puts the keys onto this token.

Where a field asks for a name, a passphrase or a new file, ctrl+f fills a practice value. Escape goes back one answer; ctrl+a aborts a ceremony with a reason; f1 helps on every step.
"""


class WelcomeScreen(VaultScreen):
    WHERE = "Welcome"
    HELP = WELCOME
    BINDINGS = [
        Binding("i", "init", "Start init", id="welcome.init"),
        Binding("r", "rebuild", "Rebuild", id="welcome.rebuild", tooltip="Rebuild a lost vault from a backup bundle"),
        Binding("escape", "close", "Later", id="welcome.close"),
        # The areas still answer their keys here but are not listed: at 80 columns the footer held
        # "d Dash k Keys p P▏" and cut the rest; what this screen offers comes first.
        *(Binding(key, f"app.area('{area}')", show=False)
          for key, area in (("d", "dashboard"), ("k", "keys"), ("p", "people"), ("l", "ledger"), ("c", "ceremonies"))),
    ]

    def compose_body(self) -> ComposeResult:
        # The buttons sit below the scrolling text, so focusing one never scrolls the heading away.
        with VerticalScroll(id="welcome"):
            yield Static(WELCOME, id="welcome-text")
            yield Static(practice_sheet(), id="practice-sheet")
        with Vertical(id="welcome-buttons"):
            with Horizontal(classes="buttons"):
                yield Button("Rebuild this vault from a backup bundle (r)", id="welcome-rebuild")
            with Horizontal(classes="buttons"):
                yield Button("Start the init ceremony (i)", id="init", variant="primary")
                yield Button("Look around first (esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#init", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "init":
            self.action_init()
        elif event.button.id == "welcome-rebuild":
            self.action_rebuild()
        else:
            self.action_close()

    def action_init(self) -> None:
        from console.launch import start_ceremony

        self.app.pop_screen()
        start_ceremony(self.app, "init")

    def action_rebuild(self) -> None:
        """The lost machine: this new home becomes the vault a backup bundle carries."""
        from console.screens.rebuild import RebuildScreen

        self.app.pop_screen()
        self.app.push_screen(RebuildScreen())

    def action_close(self) -> None:
        self.app.pop_screen()
