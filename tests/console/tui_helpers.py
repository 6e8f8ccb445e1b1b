"""Helpers for the console's Pilot tests: wait for a state, never sleep a fixed time."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

SIZE = (100, 32)  # every run_test passes an explicit size
SMALL = (80, 24)


async def wait_until(pilot, predicate: Callable[[], object], *, timeout: float = 90.0, what: str = "") -> None:
    """Pump the app until ``predicate()`` is true (workers and the owner thread run meanwhile).

    The timeout only bounds a hang: a loaded 2-core machine runs a drill through the screens
    in well over 20 s, so a tight bound would fail on load rather than on behaviour.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # the widget may not exist yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await pilot.pause(0.02)


def screen_named(app, cls_name: str) -> bool:
    return type(app.screen).__name__ == cls_name


async def until_screen(pilot, cls_name: str, timeout: float = 90.0) -> None:
    await wait_until(pilot, lambda: screen_named(pilot.app, cls_name), timeout=timeout, what=f"screen {cls_name}")


class MessageTap:
    """Collects every message the app processes (``run_test(message_hook=tap)``) as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, message) -> None:
        parts = [repr(message)]
        for name in getattr(message, "__dict__", {}):
            try:
                parts.append(str(getattr(message, name)))
            except Exception:
                pass
        for name in getattr(type(message), "__slots__", ()):
            try:
                parts.append(str(getattr(message, name)))
            except Exception:
                pass
        self.texts.append(" ".join(parts))

    def joined(self) -> str:
        return "\n".join(self.texts)


async def type_fast(pilot, keys) -> None:
    """Send key presses through the app's driver (the same path as real keys) and wait once.

    ``pilot.press`` waits for the process to be idle after every key (~80 ms each); a share is
    ~170 keys, so share entry is typed with this instead.
    """
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        original = REPLACED_KEYS.get(key, key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()
    await keys_handled(pilot)


async def keys_handled(pilot, timeout: float = 30.0) -> None:
    """Wait until the console's type-ahead (console.key_hold) has handed on every key it queued.

    In a ceremony keys are replayed one at a time, each once the last one's effects are handled, so
    a burst is still being typed after the driver's queue is empty; on a loaded machine an assertion
    right after ``type_fast`` saw 10 of 33 words. Keys held for a question that is not on screen yet
    stay held (they go to it when it comes).
    """
    import asyncio

    hold = getattr(pilot.app, "key_hold", None)
    if hold is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while hold.replaying or (hold.keys and not hold.holding):
        if loop.time() > deadline:
            raise AssertionError(f"typed keys still queued after {timeout} s ({len(hold.keys)} left)")
        await pilot.pause(0.02)
    await pilot.pause()


def share_keys(words) -> list[str]:
    """Four letters of each word then space (SLIP-39 words are unique in four letters)."""
    keys: list[str] = []
    for w in words:
        keys += [*w[:4], "space"]
    return keys
