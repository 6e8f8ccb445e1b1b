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
        text = Text()
        for i, title in enumerate(self.titles, start=1):
            if i < self.current:
                text.append(f"✓ {i:>2} {title}\n", style="dim")
            elif i == self.current:
                text.append(f"▶ {i:>2} {title}\n", style="bold reverse")
            else:
                text.append(f"· {i:>2} {title}\n")
        self.update(text)
