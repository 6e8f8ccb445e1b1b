"""Ask for a new file's path (a recorded script): must not exist; its directory is created."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static

from console.modals.input_dialog import InputDialog


class NewFileDialog(InputDialog):
    WHERE = "File"

    def __init__(self, question: str, suggestion: Path, *, hint: str = "", action: str = "OK",
                 suffixes: tuple[str, ...] = ()) -> None:
        """``suffixes``: the file name must end in one of these (e.g. ``.md``, ``.json``, ``.pdf``)."""
        super().__init__()
        self.question, self.suggestion, self.hint, self.action_label = question, suggestion, hint, action
        self.suffixes = suffixes

    def compose_body(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-title")
            if self.hint:
                yield Static(self.hint, classes="hint")
            yield Input(value=str(self.suggestion), id="new-file")
            yield Static("", classes="pane-problem", id="new-file-problem")
            with Horizontal(classes="buttons"):
                yield Button(self.action_label, id="go", variant="primary")
                yield Button("Cancel", id="cancel")

    def _go(self) -> None:
        text = self.query_one(Input).value.strip()
        problem = self.query_one("#new-file-problem", Static)
        if not text:
            problem.update("✗ Give a file path.")
            return
        path = Path(text).expanduser()
        if self.suffixes and path.suffix.lower() not in self.suffixes:
            problem.update(f"✗ The name must end in {', '.join(self.suffixes)}: that chooses the format.")
            return
        if path.exists():
            problem.update(f"✗ {path} already exists: the console never overwrites a file. Choose another name.")
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem.update(f"✗ {path.parent} cannot be created ({exc.strerror}). Choose another directory.")
            return
        self.dismiss(path.resolve())

