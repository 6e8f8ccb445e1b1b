"""A revealed share: numbered words in a grid, the set's identifying words emphasised.

Only the share-reveal screen shows one, to the share's one holder. Not selectable, never posted
in a message; ``wipe()`` blanks it (the screen calls it before it is dismissed).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from vault.secret import Secret

IDENT_WORDS = 2


class ShareGrid(Static):
    ALLOW_SELECT = False

    def __init__(self, share: Secret, *, columns: int = 3, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._share = share
        self.columns = columns

    def on_mount(self) -> None:
        self.update(self._grid())

    def _grid(self) -> Text:
        if self._share.wiped:
            return Text("(share cleared)")
        words = self._share.reveal_text().split()
        rows = -(-len(words) // self.columns)
        text = Text()
        for r in range(rows):
            for c in range(self.columns):
                i = c * rows + r  # column-major: read down each column, as on the card
                if i >= len(words):
                    continue
                num = Text(f"{i + 1:>2}. ", style="dim")
                style = "bold reverse" if i < IDENT_WORDS else "bold"
                text.append_text(num)
                text.append(f"{words[i]:<10}", style=style)
                text.append("   ")
            text.append("\n")
        return text

    def wipe(self) -> None:
        self.update("")
