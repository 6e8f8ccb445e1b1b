"""The ceremony's step list, with the current step marked."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class StepList(Static):
    """Steps as ``✓ done``, ``▶ current``, ``· to come``. Set ``current`` (1-based) to move."""

    current: reactive[int] = reactive(0)

    def __init__(self, titles: list[str] | tuple[str, ...] = (), **kwargs) -> None:
        super().__init__("", **kwargs)
        self.titles = list(titles)

    def set_titles(self, titles: list[str]) -> None:
        self.titles = list(titles)
        self._refresh_text()

    def watch_current(self, _value: int) -> None:
        self._refresh_text()

    def on_mount(self) -> None:
        self._refresh_text()

    def _refresh_text(self) -> None:
        """Titles wrap under their number instead of being cut (the list scrolls if it must)."""
        import textwrap

        width = max(12, (self.content_region.width or 28))
        text = Text(no_wrap=True)
        for i, title in enumerate(self.titles, start=1):
            mark = "✓" if i < self.current else "▶" if i == self.current else "·"
            style = "dim" if i < self.current else "bold reverse" if i == self.current else ""
            lines = textwrap.wrap(title, width - 6) or [""]
            text.append(f"{mark} {i:>2} {lines[0]}\n", style=style)
            for more in lines[1:]:
                text.append(f"     {more}\n", style=style)
        self.update(text)

    def on_resize(self) -> None:
        self._refresh_text()

    def all_done(self) -> None:
        self.current = len(self.titles) + 1
