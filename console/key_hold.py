"""Type-ahead across a question change: keys that arrive while the wizard replaces one question
with the next are held, then replayed in order into the next question once it has the focus.

Without it a burst (tmux ``send-keys`` in one call, a paste, a fast typist after a refusal:
``ctrl+u 2-of-3 Enter``) lands while there is no question on screen and is lost, and the re-asked
question then reads an empty box ("'' is not a policy").

* Held: keys the focused widget would get. Keys bound with priority on the screen or the app
  (abort, quit) act at once, as they always did.
* Replayed one at a time: a key is handed on only once everything the previous one caused
  (a Tab moving the focus, an Enter submitting) has been handled; if that answered the question,
  the rest waits for the next one.
* Keys that arrive more than ``WINDOW`` seconds into a wait (HSM work, a KDF) are not kept: a key
  typed while "working…" is on screen is not replayed into a question asked much later. Held keys
  are dropped when a ceremony ends, a share is revealed or the idle lock fires: they were meant
  for a question, never for a dialog, the reveal or the end buttons.

The rebuild screen (``KEYS_IN_ORDER``) uses the same hold outside a ceremony: keys typed on after
the bundle path's Enter wait for the share entry, and are dropped if the path is refused.

Held keys can be a passphrase's characters: they stay in memory only (never logged), for at most
``WINDOW`` seconds plus the next question's mount, and the deque is emptied as they are replayed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from time import monotonic

from textual import events
from textual.app import App

WINDOW = 2.0  # seconds into a wait during which keys are still kept for the next question
ROUNDS = 20  # marker rounds per key: more hops than any chain of messages one key causes
POLL = 0.05  # seconds between looks at whether a widget waited on has been removed meanwhile
HANG_GUARD = 60.0  # seconds one key's effects may take before the rest is dropped (never seen)


class KeyHold:
    def __init__(self, app: App) -> None:
        self.app = app
        self.keys: deque[events.Key] = deque()
        self.holding = False
        self.replaying = False
        self._since = 0.0
        self._task: asyncio.Task | None = None

    # -- the wizard's side -------------------------------------------------------------------------
    def start(self) -> None:
        """An answer was given: hold keys until the next question has the focus."""
        if not self.holding:
            self.holding, self._since = True, monotonic()

    def release(self) -> None:
        """The next question has the focus: replay what was held, in order."""
        self.holding = False
        self._start()

    def _start(self) -> None:
        if self.keys and not self.replaying:
            self.replaying = True
            self._task = asyncio.get_running_loop().create_task(self._replay())

    def drop(self) -> None:
        """Nothing held goes anywhere (the ceremony ended, a reveal or a lock came instead)."""
        self.holding = False
        self.keys.clear()

    # -- the app's side ----------------------------------------------------------------------------
    async def offer(self, event: events.Key) -> bool:
        """True if the key was taken (held, queued, or acted on as a priority binding)."""
        if not (self.holding or self.replaying):
            if not self.in_order():
                return False
            # In a ceremony every key goes in order, each once the last one's effects are
            # handled: Textual hands a printable key to the focused box at once while a bound key
            # (enter, ctrl+u) travels up to the app first, so in a burst "ctrl+u 2-of-3 enter" the
            # letters overtook ctrl+u, which then cleared them, and enter sent '' . (And keys
            # after an Enter are already in the box's queue by the time its answer starts a hold.)
            self.keys.append(event)
            self._start()
            return True
        if self.holding and not self.replaying and self._acts_now(event.key):
            await self.app._check_bindings(event.key, priority=True)
            return True
        if self.holding and monotonic() - self._since > WINDOW:
            return True  # typed long into a wait: not kept (as before: keys during work are lost)
        self.keys.append(event)
        return True

    def in_order(self) -> bool:
        """Keys go one at a time: in a ceremony, and on a screen that asks questions outside one
        (``KEYS_IN_ORDER``: the rebuild screen, the bundle's path, then the shares)."""
        return bool(getattr(self.app, "ceremony_running", False) or getattr(self.app.screen, "KEYS_IN_ORDER", False))

    def _acts_now(self, key: str) -> bool:
        for node in (self.app.screen, self.app):
            if any(b.priority for b in node._bindings.key_to_bindings.get(key, ())):
                return True
        return False

    async def _replay(self) -> None:
        try:
            while self.keys and not self.holding:
                event = self.keys.popleft()
                target = self.app.focused or self.app.screen
                await App.on_event(self.app, event)  # the app's own routing: priority bindings, focus
                if not await self._settle(target):
                    # Sent now, the next key could land in a question it was not meant for (the
                    # answer may still be on its way): the rest is dropped, as keys typed into a
                    # long wait are.
                    self.keys.clear()
        finally:
            self.replaying = False
            if self.keys and not self.holding:  # a key came in during the last settle
                self.release()

    async def _settle(self, target) -> bool:
        """Wait until the key and everything it caused (bubbling, a focus move, an answer) is
        handled: a marker is queued on every widget from the key's target (and the focus) up to
        the app and awaited, in rounds, until no queue on the way holds anything more (a chain of
        messages from one key is never ``ROUNDS`` hops long; a timer's tick may keep a queue from
        ever being empty). False only if ``HANG_GUARD`` seconds pass first.

        A marker is waited for however long a loaded machine takes to reach it. (It was waited
        for at most 2 s: past that the next key was sent anyway, and on a loaded 2-core run an
        Enter whose answer had not yet reached the wizard was followed by ``ctrl+u 2-of-3 enter``
        typed into the refused question's box instead of its re-ask: the correction was lost.)"""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD
        for _ in range(ROUNDS):
            nodes = {*target.ancestors_with_self}
            if self.app.focused is not None:
                nodes.update(self.app.focused.ancestors_with_self)
            marks = {}
            for node in nodes:
                if _gone(node):  # a removed widget (the answered pane) processes nothing more
                    continue
                mark = loop.create_future()
                if node.call_later(lambda m=mark: m.done() or m.set_result(None)):
                    marks[mark] = node
            while marks:
                done, _ = await asyncio.wait(marks, timeout=POLL)
                for mark in [*done, *(m for m, node in marks.items() if _gone(node))]:
                    mark.cancel()  # (a no-op on a done one)
                    marks.pop(mark, None)
                if marks and loop.time() > deadline:
                    for mark in marks:
                        mark.cancel()
                    return False
            if not any(n._message_queue.qsize() for n in nodes if not _gone(n)):
                return True
        return True


def _gone(node) -> bool:
    """A widget being removed: what is still queued on it may never be handled."""
    return node._closed or node._closing
