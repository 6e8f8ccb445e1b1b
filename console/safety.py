"""Safety rules of the console that are not tied to one screen.

* production ceremonies are refused while Textual's devtools or debug features are on (devtools
  streams key presses and widget values to another process);
* the idle lock: after ``idle_timeout`` seconds without a key press or a click the console shows
  the (opaque) lock screen and wipes what the current question holds: typed words and
  passphrases; a partial quorum at share entry is reset (the ceremony goes on from its first
  share); with every share entered and only the SLIP-39 passphrase to come, the ceremony is
  aborted (reason in the ledger) so that no quorum waits in memory. An activated quorum stays
  until its ceremony ends, as DESIGN.md allows; the lock screen covers it.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable

from vault.types import Mode

UNSAFE_FEATURES = ("devtools", "debug")


def production_refusal(mode: Mode, features: Iterable[str]) -> str | None:
    """Why a ceremony may not start here, or None. Practice runs are always allowed."""
    if mode is not Mode.PRODUCTION:
        return None
    on = sorted(f for f in UNSAFE_FEATURES if f in set(features))
    if on:
        return (f"Textual {' and '.join(on)} mode is on (TEXTUAL={','.join(on)}): it can stream key presses "
                "and values out of the console. Restart the console without it to run a production ceremony.")
    return None


class IdleClock:
    """Seconds since the last input; ``monotonic`` is injectable for tests."""

    def __init__(self, timeout: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._now = monotonic
        self._last = monotonic()

    def now(self) -> float:
        return self._now()

    def touch(self) -> None:
        self._last = self._now()

    @property
    def idle_for(self) -> float:
        return self._now() - self._last

    @property
    def expired(self) -> bool:
        return self.timeout > 0 and self.idle_for >= self.timeout
