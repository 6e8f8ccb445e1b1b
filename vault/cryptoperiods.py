"""Default cryptoperiods (originator-usage periods) from NIST SP 800-57 Part 1 Rev. 5, Table 1.

The table gives ranges; the console uses the upper end of each as the default, because a
master key held under an m-of-n quorum in an HSM is the well-protected case the table's
upper ends describe. A vault may shorten (or lengthen) any of them with the setting
``cryptoperiod.<purpose>`` (days); a ceremony may give a key its own period.

| purpose   | SP 800-57 key type (Table 1)          | OUP in the table | default |
|-----------|---------------------------------------|------------------|---------|
| sign      | private signature key                 | 1 to 3 years     | 3 years |
| encrypt   | symmetric data-encryption key         | up to 2 years    | 2 years |
| wrap      | symmetric key-wrapping key            | up to 2 years    | 2 years |
| transport | private key-transport key             | up to 2 years    | 2 years |
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vault.types import KeyPurpose

DEFAULT_DAYS: dict[KeyPurpose, int] = {
    KeyPurpose.SIGN: 3 * 365,
    KeyPurpose.ENCRYPT: 2 * 365,
    KeyPurpose.WRAP: 2 * 365,
    KeyPurpose.TRANSPORT: 2 * 365,
}

#: Warnings before the end of a key's cryptoperiod (doctor, dashboard).
WARN_DAYS: tuple[int, ...] = (90, 30)


def setting_name(purpose: KeyPurpose) -> str:
    return f"cryptoperiod.{KeyPurpose(purpose).value}"


def cryptoperiod_days(store, purpose: KeyPurpose) -> int:
    """The vault's cryptoperiod for ``purpose``: its setting, else the SP 800-57 default."""
    value = store.get_setting(setting_name(purpose))
    if value is not None and value.isdigit() and int(value) >= 1:
        return int(value)
    return DEFAULT_DAYS[KeyPurpose(purpose)]


def expiry(activated: datetime, days: int) -> datetime:
    return activated + timedelta(days=days)
