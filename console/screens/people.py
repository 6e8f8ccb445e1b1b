"""Custodians, administrators and witnesses, with the shares they hold."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from console import views
from console.screens.base import VaultScreen, run_guarded
from vault.errors import VaultError


class PeopleScreen(VaultScreen):
    WHERE = "Custodians"
    HELP = """\
Everyone enrolled on this console: custodians (each holds one share of the active set),
administrators and witnesses. Enrollment and retirement happen in ceremonies (init, reshare).
"""
    BINDINGS = [Binding("r", "refresh", "Refresh", id="people.refresh")]

    def compose_body(self) -> ComposeResult:
        yield DataTable(id="people-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="people-status", classes="status-line")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title in ("Name", "Role", "Status", "Enrolled", "Share of the active set"):
            table.add_column(title)

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
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([(r.name, r.role, r.status, r.enrolled_at, r.shares) for r in rows])
        self.query_one("#people-status", Static).update(f"{len(rows)} people" if rows else
                                                         "Nobody enrolled yet: run the init ceremony (c).")
