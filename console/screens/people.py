"""Custodians, administrators and witnesses: the shares they hold and their key fingerprints."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console import views
from console.readable import fingerprint_block, groups
from console.screens.base import VaultScreen, run_guarded
from vault.errors import VaultError


def short_fingerprint(fingerprint: str) -> str:
    """The first four groups: enough to find a person in the list (the detail has it all)."""
    hex_ = fingerprint.split(":", 1)[-1]
    return groups(hex_[:16]) + "…" if len(hex_) > 16 else hex_


class PeopleScreen(VaultScreen):
    WHERE = "Custodians"
    HELP = """\
Everyone enrolled on this console: custodians (each holds one share of the active set),
administrators and witnesses. Enrollment and retirement happen in ceremonies (init, reshare).

The fingerprint is that of each person's attestation key (SHA-256 of its public key), in groups
of four, with PGP words below the table: compare it with the one read aloud at enrollment.
"""
    BINDINGS = [Binding("r", "refresh", "Refresh", id="people.refresh", show=False)]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[views.PersonRow] = []

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="people-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="people-detail")
        yield Static("", id="people-status", classes="status-line")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title, width in (("Name", 10), ("Role", 13), ("Status", 8), ("Share", 22), ("Fingerprint", 20)):
            table.add_column(title, width=width)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        run_guarded(self, self._load(), "people")

    async def _load(self) -> None:
        try:
            rows = await self.app.bridge.run(views.people)
        except VaultError as exc:
            self.query_one("#people-status", Static).update(f"✗ {exc.message}")
            return
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([(r.name, r.role, r.status, r.shares, short_fingerprint(r.fingerprint)) for r in rows])
        self.query_one("#people-status", Static).update(f"{len(rows)} people" if rows else
                                                         "Nobody enrolled yet: run the init ceremony (c).")
        if rows:
            self._detail(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._detail(event.cursor_row)

    def _detail(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            r = self.rows[index]
            self.query_one("#people-detail", Static).update(
                f"{r.name} ({r.role}, enrolled {r.enrolled_at}) key fingerprint:\n{fingerprint_block(r.fingerprint)}")
