"""Time as the store and the ledger write it: ISO 8601 UTC with microseconds and a ``Z``.

A clock is any callable returning an aware ``datetime``; tests inject a fixed one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    """``2026-05-01T09:30:00.000000Z``: fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the store only records aware (UTC) times")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
