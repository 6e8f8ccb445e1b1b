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
            if not getattr(self.app, "ceremony_running", False):
                return False
            # In a ceremony every key goes in order, each once the last one's effects are
            # handled: Textual hands a printable key to the focused box at once while a bound key
            # (enter, ctrl+u) travels up to the app first, so in a burst "ctrl+u 2-of-3 enter" the
            # letters overtook ctrl+u, which then cleared them, and enter sent '' .
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
                await self._settle(target)
        finally:
            self.replaying = False
            if self.keys and not self.holding:  # a key came in during the last settle
                self.release()

    async def _settle(self, target) -> None:
        """Wait until the key and everything it caused (bubbling, a focus move, an answer) is
        handled: a marker is queued on every widget from the key's target (and the focus) up to
        the app and awaited, in rounds, until no queue on the way holds anything more."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            nodes = {*target.ancestors_with_self}
            if self.app.focused is not None:
                nodes.update(self.app.focused.ancestors_with_self)
            # a removed widget (the answered pane) processes nothing more: not waited for
            nodes = [n for n in nodes if not (n._closed or n._closing)]
            marks = []
            for node in nodes:
                mark = loop.create_future()
                if node.call_later(lambda m=mark: m.done() or m.set_result(None)):
                    marks.append(mark)
            if marks:
                done, pending = await asyncio.wait(marks, timeout=2)
                for mark in pending:
                    mark.cancel()
                if pending:
                    return
            if not any(n._message_queue.qsize() for n in nodes if not (n._closed or n._closing)):
                return
