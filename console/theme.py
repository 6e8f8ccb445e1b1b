"""The console's theme: high contrast, few colours, readable on a plain 16-colour terminal."""

from textual.theme import Theme

CUSTODIAN_THEME = Theme(
    name="custodian",
    primary="#5fafff",
    secondary="#87afaf",
    accent="#ffaf00",
    warning="#ffaf00",
    error="#ff5f5f",
    success="#5fd75f",
    foreground="#e4e4e4",
    background="#121212",
    surface="#1c1c1c",
    panel="#262626",
    dark=True,
)
