"""A virtual table: renders only the rows on screen, so 10,000 rows cost what 30 do.

``DataTable`` builds a row object (and measures cells) for every row it holds: 10,000 keys took
seconds to add and again to refill after each filter. ``RowTable`` keeps the rows as a plain list
of cell tuples and renders lines on demand (Textual's line API), so setting the rows, filtering
and scrolling are O(rows on screen). One cursor row; keyboard and mouse move it.

Attributes down (``set_rows``), messages up (``RowTable.Highlighted(index)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int


class RowTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {"row-table--header", "row-table--cursor", "row-table--odd"}
    DEFAULT_CSS = """
    RowTable { overflow-x: hidden; overflow-y: auto; }
    RowTable > .row-table--header { text-style: bold; background: $panel; }
    RowTable > .row-table--cursor { background: $accent; color: $text; }
    RowTable:blur > .row-table--cursor { background: $accent 50%; }
    RowTable > .row-table--odd { background: $surface-lighten-1 30%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=False, repaint=False)

    @dataclass
    class Highlighted(Message):
        table: "RowTable"
        index: int

        @property
        def control(self) -> "RowTable":
            return self.table

    def __init__(self, columns: Sequence[Column], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.columns = tuple(columns)
        self._rows: list[tuple[str, ...]] = []
        self._width = sum(c.width + 1 for c in self.columns)

    # -- data ----------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._rows)

    def set_rows(self, rows: list[tuple[str, ...]], cursor: int = 0) -> None:
        """Replace every row (the list is kept, not copied) and put the cursor on ``cursor``."""
        self._rows = rows
        self.virtual_size = Size(self._width, len(rows) + 1)  # + the header line
        cursor = max(0, min(cursor, len(rows) - 1))
        self.set_reactive(RowTable.cursor_row, cursor)
        self.scroll_to(0, max(0, cursor - self.page_rows // 2), animate=False, immediate=True)
        self.refresh()
        if rows:
            self.post_message(self.Highlighted(self, cursor))

    # -- movement ------------------------------------------------------------------------------------
    @property
    def page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def move_to(self, index: int) -> None:
        if not self._rows:
            return
        index = max(0, min(len(self._rows) - 1, index))
        if index == self.cursor_row:
            return
        old = self.cursor_row
        self.cursor_row = index
        self._refresh_row(old)
        self._refresh_row(index)
        self._keep_visible(index)
        self.post_message(self.Highlighted(self, index))

    def _keep_visible(self, index: int) -> None:
        top = int(self.scroll_y)
        visible = self.page_rows
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False, immediate=True)

    def _refresh_row(self, index: int) -> None:
        y = index + 1 - int(self.scroll_y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor_row + direction * self.page_rows)

    def action_jump(self, where: int) -> None:
        self.move_to(len(self._rows) - 1 if where < 0 else 0)

    def _on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.move_to(int(self.scroll_y) + event.y - 1)

    # -- rendering -----------------------------------------------------------------------------------
    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            cells = tuple(c.title for c in self.columns)
            return self._strip(cells, width, base + self.get_component_rich_style("row-table--header"))
        index = int(self.scroll_y) + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, base)
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("row-table--cursor")
        elif index % 2:
            style = base + self.get_component_rich_style("row-table--odd")
        return self._strip(self._rows[index], width, style)

    def _strip(self, cells: Sequence[str], width: int, style: Style) -> Strip:
        text = " ".join(f"{cell[:col.width]:<{col.width}}" for cell, col in zip(cells, self.columns))
        text = f"{text[:width]:<{width}}"
        return Strip([Segment(text, style)], width)
