"""Share sets for the quorum tests: small, fast (iteration exponent 0), made once per module."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from shamir_mnemonic import Share
from shamir_mnemonic.wordlist import WORDLIST

from vault.secret import Secret
from vault.shares import GroupSpec, QuorumPolicy, ShareRef, SplitResult, split

QS = Secret(bytes(range(32)), "quorum-secret")
PASSPHRASE = "correct horse battery"

_SOURCE = " ".join(p.read_text() for p in (Path(__file__).resolve().parents[2] / "vault" / "shares").glob("*.py"))
#: SLIP-39 words that occur in the messages' own wording ("member", "group", "check", ...).
TEMPLATE_WORDS = {w for w in re.findall(r"[a-z]+", _SOURCE.lower()) if w in set(WORDLIST)}


def make(policy: QuorumPolicy, passphrase: str | None = None) -> SplitResult:
    return split(QS, policy, Secret(passphrase, "passphrase") if passphrase else None)


@pytest.fixture(scope="module")
def three_of_five() -> SplitResult:
    return make(QuorumPolicy.simple(3, 5, iteration_exponent=0))


@pytest.fixture(scope="module")
def other_three_of_five() -> SplitResult:
    """Another share set of the same shape: its shares are foreign to ``three_of_five``."""
    return make(QuorumPolicy.simple(3, 5, iteration_exponent=0))


@pytest.fixture(scope="module")
def with_passphrase() -> SplitResult:
    return make(QuorumPolicy.simple(2, 3, passphrase=True, iteration_exponent=0), PASSPHRASE)


@pytest.fixture(scope="module")
def two_of_three_groups() -> SplitResult:
    policy = QuorumPolicy(2, (GroupSpec(2, 3), GroupSpec(3, 5), GroupSpec(1, 1)), iteration_exponent=0)
    return make(policy)


def text(result: SplitResult, group: int, member: int) -> str:
    return result.share(ShareRef(group, member)).reveal_text()


def forged(share_text: str, *, member: int | None = None) -> str:
    """A well-formed share with the same set parameters but other secret data (a miswritten card
    that still passes the checksum), optionally under another member number."""
    share = Share.from_mnemonic(share_text)
    value = bytes(b ^ 0x5A for b in share.value)
    changes = {"value": value} if member is None else {"value": value, "index": member}
    return dataclasses.replace(share, **changes).mnemonic()


def assert_echoes_only_set_words(message: str, share_text: str, *other_set_words: str) -> None:
    """The message may name the share's first two words (and other sets' identifying words),
    never any later word of the share."""
    words = share_text.split()
    said = set(re.findall(r"[a-z]+", message.lower()))
    allowed = TEMPLATE_WORDS | set(words[:2]) | {w for s in other_set_words for w in s.split()}
    leaked = (said & set(words[2:])) - allowed
    assert not leaked, f"message reveals share words {sorted(leaked)}: {message}"
    for a, b in zip(words[1:], words[2:]):
        assert f"{a} {b}" not in message.lower(), f"message reveals a run of the share: {message}"
