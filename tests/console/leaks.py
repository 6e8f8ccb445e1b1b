"""What a TUI run must never show: the secrets of a PRACTICE vault, as needles to search for.

(The console's own scanner: tests/support/secret_scan.py did not exist when these tests were
written.) Needles: every practice passphrase; any three consecutive words of a share after its
first two (the first two only name the set and are shown on purpose); the quorum secret, the
backup KEK and the bundle MAC key in hex; the token's user and SO PINs derived from the secret.
"""

from __future__ import annotations

from typing import Iterable

from shamir_mnemonic import combine_mnemonics

from console.practice import PRACTICE_PEOPLE, PRACTICE_SLIP39_PASSPHRASE
from vault.secret import Secret
from vault.shares.derive import derive_backup_kek, derive_bundle_mac_key, derive_so_pin, derive_user_pin


def needles(shares: dict[str, str], *, threshold: int = 2, extra: Iterable[str] = ()) -> dict[str, str]:
    """label -> secret text to look for."""
    found: dict[str, str] = {f"passphrase of {n}": pp for n, pp in PRACTICE_PEOPLE.items()}
    found["SLIP-39 passphrase"] = PRACTICE_SLIP39_PASSPHRASE
    for i, value in enumerate(extra):
        found[f"extra secret {i + 1}"] = value
    if len(shares) >= threshold:
        qs = Secret(combine_mnemonics(list(shares.values())[:threshold]), "quorum-secret")
        found["quorum secret (hex)"] = qs.reveal().hex()
        found["backup KEK (hex)"] = derive_backup_kek(qs).reveal().hex()
        found["bundle MAC key (hex)"] = derive_bundle_mac_key(qs).reveal().hex()
        found["user PIN"] = derive_user_pin(qs).reveal_text()
        found["SO PIN"] = derive_so_pin(qs).reveal_text()
    return found


def leaks(text: str, shares: dict[str, str], *, threshold: int = 2, extra: Iterable[str] = ()) -> list[str]:
    """Which secrets appear in ``text`` (labels only: the report itself must not leak)."""
    low = text.lower()
    out = [label for label, value in needles(shares, threshold=threshold, extra=extra).items()
           if value and value.lower() in low]
    for who, share in shares.items():
        words = share.split()
        if any(" ".join(words[i:i + 3]) in low for i in range(2, len(words) - 2)):
            out.append(f"share words of {who}")
    return out
