"""The PRACTICE / PRODUCTION banner: first line of every screen and every modal."""

from __future__ import annotations

from textual.widgets import Static

from vault.types import Mode

_TEXT = {
    Mode.PRACTICE: " PRACTICE · practice token and secrets only",
    Mode.PRODUCTION: " PRODUCTION · real HSM, real keys",
}


class ModeBanner(Static):
    """One line, docked top, coloured by mode; ``where`` names the current screen."""

    ALLOW_SELECT = False

    def __init__(self, mode: Mode, where: str = "") -> None:
        super().__init__(self.text_for(mode, where), classes=mode.value)
        self.mode = mode

    @staticmethod
    def text_for(mode: Mode, where: str = "") -> str:
        text = _TEXT[mode]
        return f"{text}  │ {where}" if where else text
