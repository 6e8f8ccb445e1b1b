"""Combine shares without a vault (an auditor's or a new machine's check of a bundle).

Each share is checked word by word first (vault.shares.parse: the precise error, never the
share's words); then the set and the count: every share must carry the same SLIP-39
identifier, and enough of them for the set's thresholds. Without the vault's record of the set
there is no check value: the caller confirms the secret another way (a bundle's KEK check value).
"""

from __future__ import annotations

from typing import Sequence

from shamir_mnemonic import MnemonicError, combine_mnemonics

from vault.errors import QuorumCheckFailed, QuorumIncomplete, ShareDuplicate, ShareForeign
from vault.secret import Secret
from vault.shares.parse import parse_share


def combine_offline(shares: Sequence[Secret], passphrase: Secret | None = None) -> Secret:
    """The quorum secret the ``shares`` combine into (``ShareError`` subclasses name what is wrong)."""
    parsed = []
    try:
        for i, text in enumerate(shares, start=1):
            share = parse_share(text)
            if parsed and share.identifier != parsed[0].identifier:
                raise ShareForeign(f"Share {i} (starting {share.set_words!r}) is of another share set than share 1 "
                                   f"(starting {parsed[0].set_words!r}).")
            if any(p.ref == share.ref for p in parsed):
                raise ShareDuplicate(f"Share {i} is {share.ref.describe()} again.")
            parsed.append(share)
        if not parsed:
            raise QuorumIncomplete("No share was given.", next_step="Give the quorum's shares (--share REF, repeated).")
        groups: dict[int, int] = {}
        for p in parsed:
            groups[p.ref.group] = groups.get(p.ref.group, 0) + 1
        complete = sum(1 for n in groups.values() if n >= parsed[0].member_threshold) if len(groups) == 1 else None
        try:
            value = combine_mnemonics([p.text.reveal_text() for p in parsed],
                                      passphrase=passphrase.reveal() if passphrase else b"")
        except MnemonicError:  # its message quotes words of a share: never pass it on
            if complete == 0:
                raise QuorumIncomplete(f"{len(parsed)} shares were given; this set needs "
                                       f"{parsed[0].member_threshold}.") from None
            raise QuorumCheckFailed("The shares do not combine into one secret (too few for a group, or the "
                                    "groups do not add up).") from None
        return Secret(value, "quorum-secret")
    finally:
        for p in parsed:
            p.wipe()
