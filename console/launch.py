"""Starting a ceremony from any screen: the production/devtools refusal, then the wizard.

One road for the launcher, the welcome screen, the unfinished-ceremony dialog and the command
palette, so the safety check cannot be forgotten on one of them.
"""

from __future__ import annotations

from pathlib import Path


def start_ceremony(app, name: str, *, resume_id: str | None = None, record_to: Path | None = None) -> bool:
    """Push the wizard for ``name`` (or resume ``resume_id``); False when refused."""
    from console.screens.wizard import WizardScreen

    refusal = app.ceremony_refusal()
    if refusal:
        from console.modals.error import ErrorDialog

        app.push_screen(ErrorDialog("Ceremony refused", refusal,
                                    "Quit, unset TEXTUAL and start the console again.", "DEVTOOLS"))
        return False
    app.push_screen(WizardScreen(name, resume_id=resume_id, record_to=record_to))
    return True


def suggested_script_path(home: Path, name: str, now) -> Path:
    """Where a recorded script goes by default: ``HOME/scripts/<name>-<UTC time>.toml``."""
    return Path(home) / "scripts" / f"{name}-{now:%Y%m%d-%H%M%S}.toml"
