"""The ceremony launcher: every ceremony in ceremonies/*.toml with its purpose and preconditions."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console import views
from console.launch import start_ceremony, suggested_script_path
from console.modals.path import NewFileDialog
from console.screens.base import VaultScreen, run_guarded
from vault.errors import VaultError


LEGEND = "In a key's life order.\n▶ ready to start\n· not now (why: on the right)"



def reflow(text: str) -> str:
    """A definition's purpose is wrapped for the TOML file: join its lines into paragraphs so the
    pane wraps them at its own width (blank lines stay paragraph breaks)."""
    import re

    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()))

class CeremoniesScreen(VaultScreen):
    WHERE = "Ceremonies"
    HELP = """\
Choose a ceremony and press `enter` to start it, or `R` to start it and record the run into a
replayable script (every answer, no secret: passphrases and shares become `env:` references).
`u` lists unfinished ceremonies to resume or abort. The right pane shows its purpose, whether it
needs a quorum, its preconditions and its steps. Unfinished ceremonies (after a crash or power
loss) are offered for resume or abort when you start.

In a PRACTICE home everything runs on a practice token with practice secrets: try init,
generate-key, backup, drill and destroy in that order.
"""
    BINDINGS = [
        Binding("enter", "start", "Start", id="ceremonies.start"),
        Binding("R", "record", "Record", id="ceremonies.record",
                tooltip="Run the ceremony and record it as a replayable script (no secrets)"),
        Binding("u", "unfinished", "Unfinished", id="ceremonies.unfinished"),
        Binding("r", "refresh", "Refresh", id="ceremonies.refresh", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.entries: list[views.CeremonyEntry] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="ceremonies-body"):
            with Vertical(id="ceremony-list-pane"):
                yield OptionList(id="ceremony-list")
                yield Static(LEGEND, id="ceremony-legend")
            with VerticalScroll(id="ceremony-detail-pane"):
                yield Static("", id="ceremony-detail")

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        run_guarded(self, self._load(), "ceremonies")

    async def _load(self) -> None:
        try:
            self.entries = await self.app.bridge.run(views.catalogue)
        except VaultError as exc:
            self.query_one("#ceremony-detail", Static).update(f"✗ {exc.title}: {exc.message} Next: {exc.next_step}")
            return
        ol = self.query_one(OptionList)
        ol.clear_options()
        ol.add_options([Option(f"{'·' if e.blocked else '▶'} {e.name}", id=e.name) for e in self.entries])
        if self.entries:  # the cursor starts on the first ceremony that can start now
            ol.highlighted = next((i for i, e in enumerate(self.entries) if not e.blocked), 0)
        ol.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        entry = next((e for e in self.entries if e.name == event.option_id), None)
        if entry is not None:
            self._show(entry)

    def _show(self, entry, *, refused: bool = False) -> None:
        steps = "\n".join(f"  {i}. {t}" for i, t in enumerate(entry.steps, start=1))
        pre = ", ".join(entry.preconditions) or "none"
        ready = f"✗ not now: {entry.blocked}" if entry.blocked else "▶ ready to start"
        if refused:
            ready = f"✗ {entry.name} cannot start now (nothing was started): {entry.blocked}"
        self.query_one("#ceremony-detail", Static).update(
            f"{entry.title}\n{ready}\n\n{reflow(entry.purpose)}\n\nquorum: {entry.quorum}\npreconditions: {pre}\n\n"
            f"steps:\n{steps}"
            "\n\nenter: start it · R: start it and record the run as a script · u: unfinished ceremonies")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.start(event.option_id)

    def action_start(self) -> None:
        name = self.highlighted_name()
        if name:
            self.start(name)

    def highlighted_name(self) -> str | None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None and self.entries:
            return self.entries[ol.highlighted].name
        return None

    def start(self, name: str | None, record_to: Path | None = None) -> None:
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is not None and entry.blocked:
            # Not now: say why here instead of opening a ceremony that stops before its first step.
            self._show(entry, refused=True)
            self.app.bell()
            return
        if name:
            start_ceremony(self.app, name, record_to=record_to)

    def action_record(self) -> None:
        """Run the highlighted ceremony and record it into a replayable script (secrets as references)."""
        name = self.highlighted_name()
        if not name:
            return

        def chosen(path: Path | None) -> None:
            if path is not None:
                self.start(name, record_to=path)

        self.app.push_screen(NewFileDialog(
            f"Record the {name} ceremony to a script", suggested_script_path(self.app.home_path, name, self.app.clock()),
            hint="The script holds every answer but no secret: passphrases and shares become env:NAME references "
                 "that whoever replays it sets. Replay: custodian ceremony run NAME --script FILE.",
            action="Start and record"), callback=chosen)

    def action_unfinished(self) -> None:
        self.run_worker(self.app.offer_unfinished(), group="unfinished")
