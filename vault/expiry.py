"""Cryptoperiod warnings: keys whose originator-usage period ends within 90 or 30 days, and
keys already past it (SP 800-57 Part 1: an expired key protects nothing new).

``expiry_findings(store, now)`` takes the time to judge by, so tests (and a custodian planning
ahead) can ask "what will doctor say on that date?". Only active and suspended keys are
considered: a deactivated key no longer protects anything, so its end date is history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from vault.cryptoperiods import WARN_DAYS
from vault.store.clock import iso
from vault.store.records import KeyRecord


@dataclass(frozen=True, slots=True)
class ExpiryNotice:
    key: KeyRecord
    days_left: int  # negative: expired that many days ago
    level: str  # "expired" | "30" | "90"

    def message(self) -> str:
        if self.level == "expired":
            return f"{self.key.ref} ({self.key.purpose.value}) cryptoperiod ended {self.key.expires_at[:10]}"
        return (f"{self.key.ref} ({self.key.purpose.value}) cryptoperiod ends {self.key.expires_at[:10]}, "
                f"in {self.days_left} days")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expiry_notices(store, now: datetime | None = None) -> list[ExpiryNotice]:
    """Active and suspended keys within the widest warning window or expired, soonest first."""
    now = now or datetime.now(timezone.utc)
    horizon = iso(now + timedelta(days=max(WARN_DAYS)))
    notices = []
    for key in store.keys_expiring(horizon):
        left = _parse(key.expires_at) - now
        days = left.days if left >= timedelta(0) else -((-left).days or 1)
        if left <= timedelta(0):
            level = "expired"
        else:
            level = str(min(w for w in WARN_DAYS if left <= timedelta(days=w)))
        notices.append(ExpiryNotice(key, days, level))
    return notices
