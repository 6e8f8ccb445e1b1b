"""Base screens: every screen and modal starts with the mode banner and ends with the footer."""

from __future__ import annotations

from typing import Any, ClassVar, Coroutine, TypeVar

from textual.app import ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer

from console.widgets.banner import ModeBanner
from vault.types import Mode

T = TypeVar("T")


def app_mode(screen) -> Mode:
    return getattr(screen.app, "vault_mode", Mode.PRACTICE)


def run_guarded(node, work: Coroutine[Any, Any, None], group: str) -> None:
    """Run a screen's read of the vault as an exclusive worker that cannot take the console down.

    Expected problems (``VaultError``) are shown by the screen itself; anything else (a bug)
    becomes a notification naming only the exception type, and the console stays up.
    """

    async def guarded() -> None:
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - a bug in one view must not close the console
            node.notify(f"{node.__class__.__name__}: an internal fault ({type(exc).__name__}) stopped this view "
                        "from loading. The rest of the console works; report it.", severity="error")

    node.run_worker(guarded(), exclusive=True, group=group, exit_on_error=False)


class _Framed:
    """What every screen and modal shares: the mode banner on top (never out of sight),
    ``compose_body()``, the footer; no selection where secrets are shown."""

    WHERE: ClassVar[str] = ""
    HOLDS_SECRETS: ClassVar[bool] = False
    HELP: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        yield ModeBanner(app_mode(self), self.WHERE)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    @property
    def allow_select(self) -> bool:
        return not self.HOLDS_SECRETS and super().allow_select


class VaultScreen(_Framed, Screen):
    """A full screen: banner, ``compose_body()``, footer.

    ``HOLDS_SECRETS`` screens refuse selection and clipboard copies (see CustodianApp).
    """


class VaultModal(_Framed, ModalScreen[T]):
    """A modal: banner on top (never out of sight), the dialog, footer."""
