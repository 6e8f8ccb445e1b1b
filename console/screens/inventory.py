"""Key inventory: sort and filter by state, algorithm and label; a detail pane for the key.

Fast with 10,000 keys: the rows are read on the owner thread (the screen paints at once and
says "loading"), held as plain tuples, and shown by a virtual ``RowTable`` that renders only the
lines on screen; filtering and sorting rebuild a list, never widgets.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from console import views
from console.readable import fingerprint_block
from console.screens.base import VaultScreen, run_guarded
from console.widgets.row_table import Column, RowTable
from vault.errors import VaultError

# Every column fits at 80 columns (the detail pane moves under the table below 100).
COLUMNS = (Column("Label", 18), Column("State", 11), Column("Algorithm", 9), Column("Ver", 3),
           Column("Fingerprint", 16), Column("Backup", 9))


def short_fingerprint(fingerprint: str) -> str:
    kind, _, hex_ = fingerprint.partition(":")
    if kind == "kcv":
        return f"kcv {hex_}"
    return " ".join(hex_[i:i + 4] for i in range(0, 12, 4)) + "…"
FILTER_DELAY = 0.25  # seconds after the last key press in the filter box


def matches(row: views.KeyRow, query: str) -> bool:
    """``state:active alg:ec label-part`` — every term must match (case-insensitive)."""
    for term in query.lower().split():
        if term.startswith("state:"):
            if not row.state.startswith(term[6:]):
                return False
        elif term.startswith(("alg:", "algorithm:")):
            if term.split(":", 1)[1] not in row.algorithm:
                return False
        elif term not in row.label.lower():
            return False
    return True


class InventoryScreen(VaultScreen):
    WHERE = "Keys"
    HELP = """\
Every master key the database knows, in any state.

* Type in the filter box: `state:active`, `alg:ec`, or part of a label (terms combine).
* `s` cycles the sort column (label, algorithm, state, version); `S` reverses it.
* The detail pane shows the fingerprint (also as PGP words), the lifecycle history, and which
  backups hold the key.
* `/` focuses the filter, `escape` returns to the table.
* `x` exports the highlighted key (written once, recorded in the ledger): a key pair's public
  half as `.pem`, `.der`, `.jwk` or `.pub` (OpenSSH) by the file name's extension; an AES key
  only as its check value (`.kcv`). The fingerprint is shown in hex and PGP words.
"""
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="keys.filter"),
        Binding("s", "sort", "Sort", id="keys.sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("escape", "focus_table", "Table", show=False),
        Binding("r", "refresh", "Refresh", id="keys.refresh", show=False),
        Binding("x", "export", "Export", id="keys.export"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[views.KeyRow] = []
        self.sort_index = 0
        self.sort_reverse = False
        self._detail_for: int | None = None

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: state:active alg:ec label…  (/)", id="key-filter")
        with Horizontal(id="keys-body"):
            yield RowTable(COLUMNS, id="key-table")
            with VerticalScroll(id="key-detail-pane"):
                yield Static("Select a key to see its detail.", id="key-detail")
        yield Static("loading keys…", id="key-status", classes="status-line")

    def on_mount(self) -> None:
        self.query_one(RowTable).focus()
        self.on_resize()

    def on_resize(self, event=None) -> None:
        self.set_class(self.app.size.width < 100, "narrow")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        run_guarded(self, self._load(), "keys")

    async def _load(self) -> None:
        try:
            self.rows = await self.app.bridge.run(views.key_rows)
        except VaultError as exc:
            self.query_one("#key-status", Static).update(f"✗ {exc.message}")
            return
        self.fill()

    def visible_rows(self) -> list[views.KeyRow]:
        query = self.query_one("#key-filter", Input).value
        rows = [r for r in self.rows if matches(r, query)] if query.strip() else list(self.rows)
        attr = ("label", "algorithm", "state", "version")[self.sort_index]
        rows.sort(key=lambda r: (getattr(r, attr), r.label), reverse=self.sort_reverse)
        return rows

    def fill(self) -> None:
        rows = self.visible_rows()
        self._shown = rows
        keep = next((i for i, r in enumerate(rows) if r.id == self._detail_for), 0)
        self._detail_for = None  # the highlighted key's detail is read again (its state may have changed)
        self.query_one(RowTable).set_rows([(r.label, r.state, r.algorithm, str(r.version),
                                            short_fingerprint(r.fingerprint), r.backup)
                                           for r in rows], cursor=keep)
        if not rows:
            self._detail_for = None
            self.query_one("#key-detail", Static).update("No key matches." if self.rows else "No keys yet.")
        attr = ("label", "algorithm", "state", "version")[self.sort_index]
        self.query_one("#key-status", Static).update(
            f"{len(rows)} of {len(self.rows)} keys · sorted by {attr}{' (reversed)' if self.sort_reverse else ''}")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "key-filter":
            if getattr(self, "_filter_timer", None) is not None:
                self._filter_timer.stop()
            self._filter_timer = self.set_timer(FILTER_DELAY, self.fill)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.fill()
        self.action_focus_table()

    def action_focus_filter(self) -> None:
        self.query_one("#key-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(RowTable).focus()

    def action_export(self) -> None:
        """Export the highlighted key (vault.operations.export) to a new file named in a dialog."""
        from console.modals.path import NewFileDialog
        from vault.operations.export import format_for_path

        shown = getattr(self, "_shown", [])
        index = self.query_one(RowTable).cursor_row if shown else -1
        if not 0 <= index < len(shown):
            self.notify("Select a key to export first.", severity="warning")
            return
        row = shown[index]
        suffix = ".kcv" if row.algorithm.startswith("aes") else ".pem"
        suggestion = self.app.home_path / "exports" / f"{row.label}{suffix}"

        def chosen(path) -> None:
            if path is not None:
                run_guarded(self, self._export(row, path, format_for_path(path)), "keys-export")

        self.app.push_screen(NewFileDialog(f"Export {row.label} to (a new file)", suggestion,
                                           hint=".pem .der .jwk .pub (OpenSSH) for key pairs; .kcv for AES keys",
                                           action="Export"), callback=chosen)

    async def _export(self, row, path, fmt) -> None:
        from vault.operations.export import export_key

        try:
            result = await self.app.bridge.run(lambda vault: export_key(vault, row.label, fmt, path))
        except VaultError as exc:
            self.notify(f"{exc.code}: {exc}", severity="error", timeout=10)
            return
        self.notify(f"{result.key.ref} exported to {result.path}\n{result.fingerprint}\n{result.fingerprint_words}",
                    timeout=15)

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % 4
        self.fill()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.fill()

    def on_row_table_highlighted(self, event: RowTable.Highlighted) -> None:
        shown = getattr(self, "_shown", [])
        if 0 <= event.index < len(shown):
            key_id = shown[event.index].id
            if key_id != self._detail_for:
                self._detail_for = key_id
                run_guarded(self, self._detail(key_id), "key-detail")

    async def _detail(self, key_id: int) -> None:
        try:
            d = await self.app.bridge.run(views.key_detail, key_id)
        except VaultError as exc:
            self.query_one("#key-detail", Static).update(f"✗ {exc.message}")
            return
        r = d.row
        lines = [f"{r.label}  (v{r.version}, {r.algorithm})", f"state: {r.state}", "", "fingerprint:",
                 *(f"  {line}" for line in fingerprint_block(r.fingerprint).splitlines()), "",
                 f"backup: {r.backup}" + (f" — {d.no_backup_reason}" if d.no_backup_reason else ""), "",
                 "history:", *(f"  {h}" for h in d.history), "", "held by backups:",
                 *((f"  {b}" for b in d.backups) if d.backups else ["  none"])]
        self.query_one("#key-detail", Static).update("\n".join(lines))
