"""A checkbox that draws its tick only when ticked (Textual's draws an X either way, told apart
only by colour, so on a monochrome terminal every item looked ticked).

In a checklist ``enter`` ticks the item and moves to the next, as an administrator reading the
items aloud expects; ``space`` toggles, as on any checkbox.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Checkbox


class Tick(Checkbox):
    BINDINGS = [Binding("enter", "tick_and_next", "Tick and next", show=False)]

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "✓" if self.value else " "

    def watch_value(self) -> None:
        super().watch_value()  # the -on class and Changed
        self.refresh()

    def action_tick_and_next(self) -> None:
        self.value = True
        self.screen.focus_next()
