"""The ledger viewer: scroll, filter by ceremony, verify the chain with the result shown."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from console import views
from console.screens.base import VaultScreen, run_guarded
from vault.errors import VaultError


def short_ceremony(ceremony_id: str) -> str:
    """``generate-key-20260501-093000-ab12`` -> ``generate-key…ab12`` (the filter takes the full id)."""
    name, _, rest = ceremony_id.partition("-2")
    return f"{name}…{ceremony_id[-4:]}" if rest else ceremony_id


class LedgerScreen(VaultScreen):
    WHERE = "Ledger"
    HELP = """\
The ledger is an append-only hash chain of every event. `v` verifies the whole chain and names the
first bad event if any was edited, deleted or reordered. Type a ceremony id in the filter to see
only its events (`/` focuses the filter).
"""
    BINDINGS = [
        Binding("v", "verify", "Verify", id="ledger.verify"),
        Binding("slash", "focus_filter", "Filter", id="ledger.filter"),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("r", "refresh", "Refresh", id="ledger.refresh", show=False),
    ]

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="ceremony id (empty: all events)  (/)", id="ledger-filter")
        yield DataTable(id="ledger-table", cursor_type="row", zebra_stripes=True)
        yield Static("v: verify the chain", id="ledger-verify", classes="status-line")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for title in ("#", "Time", "Actor", "Ceremony", "Action", "Details"):
            table.add_column(title)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        run_guarded(self, self._load(), "ledger")

    async def _load(self) -> None:
        cer = self.query_one("#ledger-filter", Input).value.strip() or None
        try:
            lines = await self.app.bridge.run(views.ledger_lines, cer)
        except VaultError as exc:
            self.query_one("#ledger-verify", Static).update(f"✗ {exc.message}")
            return
        table = self.query_one(DataTable)
        table.clear()
        table.add_rows([(str(r.seq), r.at[5:], r.actor[:8], short_ceremony(r.ceremony_id), r.action, r.details[:60])
                        for r in lines])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_refresh()
        self.action_focus_table()

    def action_focus_filter(self) -> None:
        self.query_one("#ledger-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_verify(self) -> None:
        self.query_one("#ledger-verify", Static).update("verifying…")
        run_guarded(self, self._verify(), "ledger-verify")

    async def _verify(self) -> None:
        out = self.query_one("#ledger-verify", Static)
        try:
            result = await self.app.bridge.run(views.ledger_verify)
        except VaultError as exc:
            out.update(f"✗ {exc.title}: {exc.message} Next: {exc.next_step}")
            out.set_class(True, "bad")
            return
        self.verify_result = result
        out.update(result.text)
        out.set_class(not result.ok, "bad")
        out.set_class(result.ok, "good")
