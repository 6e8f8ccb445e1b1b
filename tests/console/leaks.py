"""What a TUI run must never show or write: the secrets of a PRACTICE vault.

The needles come from the shared scanner (tests/support/secret_scan.py): every 4 consecutive
words of each share (case-insensitive), the quorum secret, the backup KEK and the bundle MAC key
(raw, hex, base64), the token's user and SO PINs derived from it, and every practice passphrase.
``leaks(text, …)`` searches captured text (messages, log lines, notifications, the wizard's log);
``scan_dirs`` searches files (the home's database, WAL, logs, token directory; scripts; bundles).
Results name what leaked, never the value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

from shamir_mnemonic import combine_mnemonics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: `from support import ...`

from console.practice import PRACTICE_PEOPLE, PRACTICE_SLIP39_PASSPHRASE  # noqa: E402
from support.secret_scan import Needle, scan, secret_needles, share_needles, text_needles  # noqa: E402
from vault.secret import Secret  # noqa: E402
from vault.shares.derive import derive_backup_kek, derive_bundle_mac_key, derive_so_pin, derive_user_pin  # noqa: E402


def needles(shares: dict[str, str], *, threshold: int = 2, extra: Iterable[str] = ()) -> list[Needle]:
    found: list[Needle] = []
    for name, pp in PRACTICE_PEOPLE.items():
        found += text_needles(f"passphrase of {name}", pp)
    found += text_needles("SLIP-39 passphrase", PRACTICE_SLIP39_PASSPHRASE)
    for i, value in enumerate(extra):
        found += text_needles(f"extra secret {i + 1}", value)
    for who, share in shares.items():
        found += share_needles(who, share)
    if len(shares) >= threshold:
        qs = Secret(combine_mnemonics(list(shares.values())[:threshold]), "quorum-secret")
        found += secret_needles("quorum secret", qs.reveal())
        found += secret_needles("backup KEK", derive_backup_kek(qs).reveal())
        found += secret_needles("bundle MAC key", derive_bundle_mac_key(qs).reveal())
        found += text_needles("user PIN", derive_user_pin(qs).reveal_text())
        found += text_needles("SO PIN", derive_so_pin(qs).reveal_text())
    return found


def leaks(text: str, shares: dict[str, str], *, threshold: int = 2, extra: Iterable[str] = ()) -> list[str]:
    """What of the vault's secrets appears in ``text`` (the needles' names only)."""
    data = text.encode("utf-8")
    folded = data.lower()
    return [n.what for n in needles(shares, threshold=threshold, extra=extra)
            if n.data in (folded if n.fold_case else data)]


def scan_dirs(roots: Iterable[Path], shares: dict[str, str], **kwargs) -> list[str]:
    """Files under ``roots`` holding a secret: ``"path: what"`` for each."""
    return [f"{f.path}: {f.what}" for f in scan(roots, needles(shares, **kwargs))]
