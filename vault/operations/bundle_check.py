"""`custodian backup inspect` and `custodian backup verify`: a bundle checked without the HSM.

* ``inspect``: the structure and every line's check (vault.backup.format.inspect_bundle), no key
  needed, so not authenticated: it says what the bundle claims to hold.
* ``verify``: with a quorum's shares, offline (no vault needed, as on a new machine): the shares
  combine into the quorum secret, its backup KEK must have the header's KEK check value (else the
  bundle was written under another quorum), and the MAC over every line must verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from vault.backup.format import BundleContents, BundleReport, inspect_bundle, kek_check_value, verify_bundle
from vault.errors import BundleForeign, BundleUnreadable
from vault.secret import Secret
from vault.shares import derive_backup_kek, derive_bundle_mac_key
from vault.shares.offline import combine_offline


def _readable(path: Path) -> Path:
    path = Path(path)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise BundleUnreadable(f"Cannot read the bundle {path}: {exc.strerror or exc}.") from None
    return path


def inspect(path: Path) -> BundleContents:
    return inspect_bundle(_readable(path))


@dataclass(frozen=True, slots=True)
class OfflineCheck:
    report: BundleReport
    kek_check_value: str


def verify_with_shares(path: Path, shares: Sequence[Secret], passphrase: Secret | None = None) -> OfflineCheck:
    """Every line, the KEK check value and the MAC, with the quorum the shares make."""
    path = _readable(path)
    contents = inspect_bundle(path)  # structure first: a damaged bundle is named before any secret is made
    qs = combine_offline(shares, passphrase)
    try:
        with derive_backup_kek(qs) as kek:
            kcv = kek_check_value(kek)
        if kcv != contents.header.kek_check_value:
            raise BundleForeign(f"The bundle {path} was written under another quorum: its backup key's check value "
                                f"is {contents.header.kek_check_value}, these shares' is {kcv} (or the SLIP-39 "
                                "passphrase is wrong).")
        with derive_bundle_mac_key(qs) as mac_key:
            report = verify_bundle(path, mac_key)
    finally:
        qs.wipe()
    return OfflineCheck(report, kcv)
