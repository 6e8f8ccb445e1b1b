"""The dashboard: token, quorum, keys, backups, drills, ledger head and doctor's warnings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from console import views
from console.screens.base import VaultScreen, run_guarded
from vault.errors import VaultError


class Panel(Static):
    def __init__(self, title: str, id: str) -> None:
        super().__init__("…", id=id, classes="panel")
        self.border_title = title


class DashboardScreen(VaultScreen):
    WHERE = "Dashboard"
    HELP = """\
The dashboard shows the state of this console's vault:

* **Token**: the HSM token in use (label, serial, what it can do).
* **Quorum**: the active share set (m-of-n), who holds which share and when it was last verified.
* **Keys**: master keys by lifecycle state.
* **Backup & drill**: the last backup and where it is; when the next restore drill is due.
* **Ledger**: the head of the hash chain, also as PGP words to read aloud.
* **Warnings**: everything `custodian doctor` would warn about.

Keys: `d` dashboard, `k` keys, `p` custodians, `l` ledger, `c` ceremonies, `r` refresh,
`ctrl+p` command palette, `f1` help.
"""
    BINDINGS = [Binding("r", "refresh", "Refresh", id="dashboard.refresh", show=False)]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="dashboard"):
            with Grid(id="dash-grid"):
                yield Panel("Token", "dash-token")
                yield Panel("Quorum", "dash-quorum")
                yield Panel("Keys", "dash-keys")
                yield Panel("Backup & drill", "dash-backup")
            yield Panel("Ledger head", "dash-ledger")
            yield Panel("Warnings", "dash-warnings")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        run_guarded(self, self._load(), "dashboard")

    async def _load(self) -> None:
        app = self.app
        try:
            view = await app.bridge.run(views.dashboard, app.clock())
        except VaultError as exc:
            self.query_one("#dash-warnings", Static).update(f"✗ {exc.title}: {exc.message} Next: {exc.next_step}")
            return
        self.view = view
        self.show(view)

    def show(self, v: views.DashboardView) -> None:
        t = v.token
        token = (f"✗ {t.problem}" if t.problem else
                 f"{t.label}\nserial {t.serial}\n{t.model}" + (f"\n{t.capabilities}" if t.capabilities else ""))
        self.query_one("#dash-token", Static).update(token)
        holders = "\n".join(f"  {h.custodian}: {h.share}, verified {h.last_verified}" for h in v.holders)
        people = ", ".join(v.custodians) if v.custodians else "no custodians enrolled"
        self.query_one("#dash-quorum", Static).update(f"{v.share_set}\n{holders}\n{people}".replace("\n\n", "\n"))
        keys = "\n".join(f"{state}: {n}" for state, n in v.keys_by_state) or "no keys yet"
        self.query_one("#dash-keys", Static).update(keys)
        self.query_one("#dash-backup", Static).update(f"last backup: {v.last_backup}\nnext drill: {v.next_drill}")
        self.query_one("#dash-ledger", Static).update(f"{v.ledger_head}  ({v.ledger_count} events)\n{v.ledger_words}")
        warn = self.query_one("#dash-warnings", Static)
        warn.update("\n".join(f"⚠ {w}" for w in v.warnings) if v.warnings else "✓ no warnings")
        warn.set_class(bool(v.warnings), "has-warnings")
