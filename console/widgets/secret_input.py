"""Inputs for secrets: PINs, passphrases, share words.

``Input(password=True)`` masks only the display: its ``Changed``/``Submitted``/``Blurred``
messages carry the cleartext, and ctrl+c / ctrl+x copy the selection to the clipboard. These
subclasses post no message that carries the value, refuse copy, cut and selection, and hand the
value over once, wrapped in ``vault.secret.Secret``, clearing themselves at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.events import Blur
from textual.message import Message
from textual.widgets import Input

from vault.secret import Secret


class QuietInput(Input):
    """An ``Input`` whose messages never carry its value (only its length)."""

    ALLOW_SELECT = False
    BINDINGS = [
        Binding("ctrl+x", "refuse_copy", "Cut (disabled)", show=False),
        Binding("ctrl+c,super+c", "refuse_copy", "Copy (disabled)", show=False),
    ]

    @dataclass
    class Edited(Message):
        """The value changed; only its length is told (the parent reads what it may need)."""

        input: "QuietInput"
        length: int

        @property
        def control(self) -> "QuietInput":
            return self.input

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("select_on_focus", False)
        super().__init__(*args, **kwargs)

    def _watch_value(self, value: str) -> None:  # replaces Input's, which posts Changed(value)
        self._suggestion = ""
        if self.styles.auto_dimensions:
            self.refresh(layout=True)
        self.post_message(self.Edited(self, len(value)))

    def _on_blur(self, event: Blur) -> None:  # Input posts Blurred(value)
        # Textual runs every class's handler along the MRO: prevent_default stops Input's, which
        # would post Blurred with the value (a box left by a Tab or Enter still holds it).
        event.prevent_default()
        self._pause_blink()

    def action_copy(self) -> None:
        self.action_refuse_copy()

    def action_cut(self) -> None:
        self.action_refuse_copy()

    def action_refuse_copy(self) -> None:
        self.app.bell()

    @property
    def selected_text(self) -> str:
        return ""


class SecretInput(QuietInput):
    """A masked input that submits a ``Secret`` once and clears itself.

    Enter posts ``SecretInput.Submitted(secret)``; the value is gone from the widget by the time
    the message is handled. ``take()`` does the same without posting (for forms with a button).
    """

    @dataclass
    class Submitted(Message):
        input: "SecretInput"
        secret: Secret

        @property
        def control(self) -> "SecretInput":
            return self.input

    @dataclass
    class EnterPressed(Message):
        """Enter in a box of a form (``take_on_enter=False``): the form decides; no value is posted."""

        input: "SecretInput"

        @property
        def control(self) -> "SecretInput":
            return self.input

    def __init__(self, *args, kind: str = "secret", take_on_enter: bool = True, **kwargs) -> None:
        kwargs.setdefault("password", True)
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.take_on_enter = take_on_enter

    def take(self) -> Secret:
        secret = Secret(self.value, self.kind)
        self.clear()
        return secret

    async def action_submit(self) -> None:
        if not self.take_on_enter:
            self.post_message(self.EnterPressed(self))
            return
        self.post_message(self.Submitted(self, self.take()))

    def on_unmount(self) -> None:
        self.value = ""
