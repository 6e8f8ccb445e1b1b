"""A ceremony's transcript in the TUI: read it, export it as markdown, JSON or PDF; and the list of
past ceremonies to choose one from (command palette: "Transcript: Open…")."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from console.modals.path import NewFileDialog
from console.screens.base import VaultModal, VaultScreen, run_guarded
from vault.errors import VaultError

FORMATS = {".md": "md", ".json": "json", ".pdf": "pdf"}


def _transcript_markdown(vault, ceremony_id: str) -> str:
    from vault.ceremony.transcript import build, render_markdown

    return render_markdown(build(vault, ceremony_id))


def _export(vault, ceremony_id: str, path: Path) -> Path:
    from console.cli_ceremony import export_transcript
    from vault.ceremony.transcript import build

    return export_transcript(build(vault, ceremony_id), FORMATS[path.suffix.lower()], path)


def _past(vault, limit: int = 200):
    return [(c.id, c.definition_name, c.status.value, c.started_at) for c in vault.store.list_ceremonies(limit=limit)]


class TranscriptScreen(VaultScreen):
    WHERE = "Transcript"
    HELP = """\
The ceremony's transcript: its steps, participants, deviations, attestations, the ledger heads
(the seal is the closing head every attestation signs) and every ledger event.

`e` exports it to a new file: the name's ending chooses the format (`.md`, `.json` for auditors
to verify with `custodian transcript verify`, `.pdf` for the binder). `escape` goes back.
"""
    BINDINGS = [Binding("e", "export", "Export", id="transcript.export"),
                Binding("escape", "back", "Back", id="transcript.back")]

    def __init__(self, ceremony_id: str) -> None:
        super().__init__()
        self.ceremony_id = ceremony_id
        self.markdown = ""

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="transcript-body"):
            yield Static("loading the transcript…", id="transcript-text")
        yield Static("e: export (.md / .json / .pdf) · escape: back", id="transcript-status", classes="status-line")

    def on_mount(self) -> None:
        run_guarded(self, self._load(), "transcript")

    async def _load(self) -> None:
        try:
            self.markdown = await self.app.bridge.run(_transcript_markdown, self.ceremony_id)
        except VaultError as exc:
            self.query_one("#transcript-text", Static).update(f"✗ {exc.message} Next: {exc.next_step}")
            return
        from console.readable import group_hex

        self.query_one("#transcript-text", Static).update(group_hex(self.markdown))
        self.query_one("#transcript-body").focus()

    def action_export(self) -> None:
        suggestion = Path(self.app.home_path) / "transcripts" / f"{self.ceremony_id}.pdf"

        def chosen(path: Path | None) -> None:
            if path is not None:
                run_guarded(self, self._write(path), "transcript-export")

        self.app.push_screen(NewFileDialog("Export the transcript to a new file", suggestion,
                                           hint="The ending chooses the format: .md, .json (verifiable) or .pdf.",
                                           action="Export", suffixes=tuple(FORMATS)), callback=chosen)

    async def _write(self, path: Path) -> None:
        status = self.query_one("#transcript-status", Static)
        try:
            written = await self.app.bridge.run(_export, self.ceremony_id, path)
        except VaultError as exc:
            status.update(f"✗ {exc.message} Next: {exc.next_step}")
            return
        self.exported = written
        status.update(f"✓ written to {written}")

    def action_back(self) -> None:
        self.app.pop_screen()


class PastCeremoniesDialog(VaultModal["str | None"]):
    """Choose a past ceremony; dismisses with its id."""

    WHERE = "Transcripts"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Past ceremonies: choose one to read its transcript", classes="dialog-title")
            yield OptionList(id="past-list")
            with Horizontal(classes="buttons"):
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        run_guarded(self, self._load(), "past")

    async def _load(self) -> None:
        rows = await self.app.bridge.run(_past)
        ol = self.query_one(OptionList)
        ol.add_options([Option(f"{started[:16].replace('T', ' ')} {name:<12} {status:<9} {cid}", id=cid)
                        for cid, name, status, started in rows])
        if rows:
            ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_id)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
