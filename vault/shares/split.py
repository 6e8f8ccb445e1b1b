"""Split the quorum secret into SLIP-39 shares, with per-share commitments and a check value.

The policy and passphrase are checked first (``PolicyInvalid``), so nothing is created for a
policy SLIP-39 cannot express. The split is then proved by recombining a minimal quorum before
anything is returned. (The mnemonic strings shamir-mnemonic builds are immutable Python objects:
they are wrapped in ``Secret`` at once, but copies inside the library cannot be wiped.)
"""

from __future__ import annotations

import hmac
import os
from typing import Callable

from shamir_mnemonic import MnemonicError, Share, combine_mnemonics, generate_mnemonics

from vault.errors import PolicyInvalid, QuorumCheckFailed
from vault.secret import Secret
from vault.shares.derive import QS_BYTES, check_value
from vault.shares.model import ShareRef, ShareSetPublic, SplitResult
from vault.shares.parse import commitment
from vault.shares.policy import QuorumPolicy, check_passphrase

SALT_BYTES = 16
EXTENDABLE = True  # SLIP-39's current default; recorded per set so old sets still parse


def split(
    qs: Secret,
    policy: QuorumPolicy,
    passphrase: Secret | None,
    *,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> SplitResult:
    policy.validate()
    pp = check_passphrase(policy, passphrase)
    secret = qs.reveal()
    if len(secret) != QS_BYTES:
        raise ValueError(f"a quorum secret has {QS_BYTES} bytes")
    try:
        groups = generate_mnemonics(
            group_threshold=policy.group_threshold,
            groups=[(g.threshold, g.count) for g in policy.groups],
            master_secret=secret,
            passphrase=pp,
            extendable=EXTENDABLE,
            iteration_exponent=policy.iteration_exponent,
        )
    except ValueError as exc:  # validate() should have caught it; never echo library text blindly
        raise PolicyInvalid(f"SLIP-39 refused the policy {policy.describe()}: {exc}") from None

    shares = tuple(
        (ShareRef(g, m), Secret(mnemonic, "share"))
        for g, members in enumerate(groups)
        for m, mnemonic in enumerate(members)
    )
    del groups
    first = Share.from_mnemonic(shares[0][1].reveal_text())
    salt = random_bytes(SALT_BYTES).hex()
    public = ShareSetPublic(
        identifier=first.identifier,
        iteration_exponent=policy.iteration_exponent,
        group_threshold=policy.group_threshold,
        groups=policy.groups,
        commitment_salt=salt,
        commitments=tuple((ref, commitment(salt, text)) for ref, text in shares),
        check_value=check_value(qs),
        extendable=first.extendable,
        passphrase=policy.passphrase,
    )
    result = SplitResult(public, shares)
    _prove(result, secret, pp)
    return result


def _prove(result: SplitResult, secret: bytes, passphrase: bytes) -> None:
    """Recombine a minimal quorum (the first T members of the first G groups)."""
    public = result.public
    chosen = [
        result.share(ShareRef(g, m)).reveal_text()
        for g in range(public.group_threshold)
        for m in range(public.groups[g].threshold)
    ]
    try:
        ok = hmac.compare_digest(combine_mnemonics(chosen, passphrase=passphrase), secret)
    except MnemonicError:
        ok = False
    if not ok:
        result.wipe()
        raise QuorumCheckFailed(
            "The new shares did not recombine to the quorum secret; they were discarded.",
            next_step="Stop and report this: the SLIP-39 library or the machine is faulty.",
        )
