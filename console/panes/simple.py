"""Panes for checklists, yes/no, choices, free text, typed confirmation and paths."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Input, OptionList, Static
from textual.widgets.option_list import Option

from console.panes.base import PromptPane
from console.practice import practice_text
from console.widgets.tick import Tick
from vault.ceremony.prompts import (
    ChecklistPrompt,
    ChoiceAnswer,
    ChoicePrompt,
    ConfirmAnswer,
    ConfirmPrompt,
    PathPrompt,
    PathPurpose,
    TextAnswer,
    TextPrompt,
    TypedConfirmPrompt,
)


class ChecklistPane(PromptPane):
    """Every item ticked, then continue. Enter ticks the item and moves on; space toggles; what is
    still missing is said under the items and cleared as soon as an item is ticked."""

    prompt: ChecklistPrompt

    def compose_pane(self) -> ComposeResult:
        yield Static("Confirm every item (enter ticks and moves on, space toggles):", classes="question")
        for i, item in enumerate(self.prompt.items):
            yield Tick(item, id=f"item-{i}")
        yield Static("", classes="pane-problem")
        with Horizontal(classes="buttons"):
            yield Button("All done: continue", id="continue", variant="primary")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self.query_one(".pane-problem", Static).update("")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        missing = [i + 1 for i, cb in enumerate(self.query(Tick)) if not cb.value]
        if missing:
            many = len(missing) > 1
            self.query_one(".pane-problem", Static).update(
                f"✗ Item{'s' if many else ''} {', '.join(map(str, missing))} {'are' if many else 'is'} not ticked yet: "
                "tick each one once it is done, or abort (ctrl+a).")
            self.query(Tick)[missing[0] - 1].focus()
            return
        self.answer(ConfirmAnswer(True))


class ConfirmPane(PromptPane):
    """Yes / no: enter on the focused button, ``y`` / ``n``, or left / right to move between them."""

    prompt: ConfirmPrompt
    BINDINGS = [
        Binding("y", "choose(True)", "Yes", id="confirm.yes"),
        Binding("n", "choose(False)", "No", id="confirm.no"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.question, classes="question")
        with Horizontal(classes="buttons"):
            yield Button(f"{self.prompt.yes_label} (y)", id="yes", variant="primary")
            yield Button(f"{self.prompt.no_label} (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.answer(ConfirmAnswer(event.button.id == "yes"))

    def action_choose(self, yes: bool) -> None:
        self.answer(ConfirmAnswer(yes))


class ChoicePane(PromptPane):
    prompt: ChoicePrompt

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.question, classes="question")
        yield OptionList(*(Option(f"{c.label}" + (f" — {c.description}" if c.description else ""), id=c.value)
                           for c in self.prompt.choices), id="choices")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        values = [c.value for c in self.prompt.choices]
        preferred = self.prompt.previous or self.prompt.default  # after a back: the earlier answer
        if preferred in values:
            ol.highlighted = values.index(preferred)
        super().on_mount()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.answer(ChoiceAnswer(event.option_id or ""))


class TextPane(PromptPane):
    """Free text with a default; the pattern is checked here first (the engine checks again)."""

    prompt: TextPrompt

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.question, classes="question")
        # An answer offered again (after a back or a refusal) is to be corrected: the cursor goes to
        # its end; a default is selected so typing replaces it.
        yield Input(value=self.prompt.previous or self.prompt.default or "", max_length=self.prompt.max_length, id="text",
                    select_on_focus=not self.prompt.previous)
        yield Static("", classes="pane-problem")
        suggestion = practice_text(self.prompt.ask, self.prompt.question) if self.prompt.practice else None
        if suggestion:
            yield Static(f"PRACTICE: ctrl+f fills “{suggestion}”.", classes="practice-hint")

    def practice_fill(self) -> bool:
        suggestion = practice_text(self.prompt.ask, self.prompt.question) if self.prompt.practice else None
        if not suggestion:
            return False
        box = self.query_one(Input)
        box.value = suggestion
        box.focus()
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(".pane-problem", Static).update("")  # the message goes once the field is edited

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if self.prompt.pattern and not re.fullmatch(self.prompt.pattern, text):
            self.query_one(".pane-problem", Static).update(
                f"✗ {text!r} is not in the expected form ({self.prompt.pattern}). Correct it and press enter.")
            return
        self.answer(TextAnswer(text))


class PathPane(PromptPane):
    """A file path; the engine checks it (new file, readable bundle, …) and re-asks if it is wrong.

    PRACTICE: ``ctrl+f`` suggests a new file under the home's ``media/`` for an output file.
    """

    prompt: PathPrompt

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.question, classes="question")
        yield Static(f"({self.prompt.purpose.value.replace('-', ' ')})", classes="hint")
        yield Input(value=self.prompt.previous or self.prompt.suggestion or "", id="path",
                    select_on_focus=not self.prompt.previous)  # see TextPane
        if self._practice_path() is not None:
            yield Static(f"PRACTICE: ctrl+f fills {self._practice_path()}", classes="practice-hint")

    def _practice_path(self) -> Path | None:
        if not self.prompt.practice or self.prompt.purpose is not PathPurpose.OUTPUT_FILE:
            return None
        if not hasattr(self, "_suggested"):
            now = self.app.clock() if hasattr(self.app, "clock") else datetime.now(timezone.utc)
            home = Path(getattr(self.app, "home_path", "."))
            self._suggested = home / "media" / f"{self.prompt.ceremony_name}-{now:%Y%m%d-%H%M%S}{self._suffix()}"
        return self._suggested

    def _suffix(self) -> str:
        """The practice file's extension from what the question writes (a bundle by default)."""
        q = f"{self.prompt.ask} {self.prompt.question}".lower()
        for word, suffix in (("signature", ".sig"), ("certificate", ".pem"), ("crl", ".crl"), ("request", ".csr"),
                             ("encrypt", ".enc"), ("decrypt", ".out"), ("public key", ".pem")):
            if word in q:
                return suffix
        return ".ccb"

    def practice_fill(self) -> bool:
        path = self._practice_path()
        if path is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        box = self.query_one(Input)
        box.value = str(path)
        box.focus()
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.answer(TextAnswer(event.value.strip()))  # empty may mean something (drill: the latest)


class TypedConfirmPane(PromptPane):
    """Destructive step: type the expected text exactly."""

    prompt: TypedConfirmPrompt

    def compose_pane(self) -> ComposeResult:
        yield Static(self.prompt.question, classes="question destructive")
        yield Static(f"Type  {self.prompt.expected}  exactly, then press enter.", classes="typed-expected")
        yield Input(placeholder=self.prompt.expected, id="typed")
        yield Static("", classes="pane-problem")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value:
            self.query_one(".pane-problem", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value != self.prompt.expected:
            self.query_one(".pane-problem", Static).update(
                f"✗ That is not {self.prompt.expected!r}: nothing was done. Type it exactly, or abort (ctrl+a).")
            event.input.value = ""
            return
        self.answer(TextAnswer(event.value))
