"""A test hook for crash tests: stop the process at a named point so that a test can kill it.

Set ``CUSTODIAN_CRASH_POINT`` to a point name and ``CUSTODIAN_CRASH_READY`` to a file path; when
the process reaches that point it writes its pid to the file and stops itself (SIGSTOP), and
the test then sends SIGKILL: a real kill -9 at an exact place, with no timing guesswork. With
the variable unset (always, outside the test suite) ``reached`` returns at once and does
nothing else: the hook never skips, weakens or reorders a check, it only pauses.

Points (see ceremonies/README.md, "Recovery after a crash"):

* ``journal:<step id>:started`` — the step's journal row says started, its body has not run;
* ``journal:<step id>:finished`` — the step's completion is committed, the next step not begun;
* ``<operation>:<where>`` inside the steps that are not safe to repeat, e.g.
  ``generate:on-token`` (the key is on the token, not yet in the database),
  ``backup:published`` (the bundle is in place, not yet recorded),
  ``restore:unwrapped:<n>`` (n keys unwrapped onto the replacement token),
  ``destroy:gone`` (the object is destroyed, the tombstone not yet written).

A point may carry a count: ``restore:unwrapped:3`` stops when the third key has been unwrapped.
"""

from __future__ import annotations

import os
import signal

ENV_POINT = "CUSTODIAN_CRASH_POINT"
ENV_READY = "CUSTODIAN_CRASH_READY"


def reached(point: str) -> None:
    """Stop here if the crash test asked for this point; otherwise do nothing."""
    wanted = os.environ.get(ENV_POINT)
    if not wanted or wanted != point:
        return
    ready = os.environ.get(ENV_READY)
    if ready:
        fd = os.open(ready, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, f"{os.getpid()} {point}\n".encode())
        finally:
            os.close(fd)
    os.kill(os.getpid(), signal.SIGSTOP)  # the test kills us here; if it continues us instead, we go on


def counting(prefix: str, items):
    """``items`` passed through, ``reached(f"{prefix}:{n}")`` after the n-th item was consumed
    by the caller (i.e. when it asks for item n+1). A no-op wrapper when no point is set."""
    if not os.environ.get(ENV_POINT, "").startswith(prefix + ":"):
        yield from items
        return
    n = 0
    for item in items:
        if n:
            reached(f"{prefix}:{n}")
        yield item
        n += 1
    if n:
        reached(f"{prefix}:{n}")
