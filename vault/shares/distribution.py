"""Handing shares out: prove each custodian wrote theirs down right before the ceremony commits.

Two ways, as the ceremony chooses: the custodian re-enters the whole share
(``verify_share_back``, checked against the commitment stored at split time), or answers a quiz
of three words, one from each third of the share (``quiz_positions`` + ``check_quiz``).
Positions are 0-based in the API; messages say "word 12" (1-based), like the share card.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Mapping, Protocol

from vault.errors import ShareChecksumInvalid, ShareMismatch, ShareWordInvalid
from vault.secret import Secret
from vault.shares.entry import located_checksum_error
from vault.shares.model import ShareRef, ShareSetPublic
from vault.shares.parse import belongs, matches_commitment, parse_share, raise_foreign
from vault.shares.words import IDENTIFYING_WORDS, expand, normalise_words


class Rng(Protocol):
    def randrange(self, start: int, stop: int) -> int: ...


def verify_share_back(expected: ShareSetPublic, ref: ShareRef, text: str | Secret) -> None:
    """Raise the precise ``ShareError`` unless ``text`` is exactly the share distributed as ``ref``."""
    if expected.commitment(ref) is None:
        raise ValueError(f"the share set stores no commitment for {ref.describe()}")
    try:
        share = parse_share(text, expected.word_count)
    except ShareChecksumInvalid as exc:
        raise located_checksum_error(exc, text, (expected,)) from None
    try:
        if not belongs(share, expected):
            raise_foreign(share, expected, ())
        if share.ref != ref:
            raise ShareMismatch(
                f"This is the share of {share.ref.describe()}, but {ref.describe()} is being verified.",
                next_step="Make sure the custodian wrote down the share shown to them, and re-enter it.",
            )
        if not matches_commitment(share, expected):
            raise ShareMismatch(f"{ref.describe(capital=True)} does not match what was distributed.")
    finally:
        share.wipe()


def quiz_positions(word_count: int, rng: Rng | None = None) -> tuple[int, int, int]:
    """Three 0-based word positions, one from each third of the share (never the two set words)."""
    if word_count < 3 * IDENTIFYING_WORDS:
        raise ValueError("a share this short cannot be quizzed")
    rng = rng or secrets.SystemRandom()
    bounds = [0, word_count // 3, 2 * word_count // 3, word_count]
    first = max(bounds[0], IDENTIFYING_WORDS)
    return (
        rng.randrange(first, bounds[1]),
        rng.randrange(bounds[1], bounds[2]),
        rng.randrange(bounds[2], bounds[3]),
    )


def check_quiz(expected_share_text: str | Secret, answers: Mapping[int, str]) -> None:
    """Raise ``ShareMismatch`` naming the wrong positions (never the words) unless all answers match."""
    if not answers:
        raise ValueError("a quiz needs at least one answer")
    words = normalise_words(expected_share_text)
    given: dict[int, str] = {}
    for position, answer in answers.items():
        if not 0 <= position < len(words):
            raise ValueError(f"position {position} is outside a {len(words)}-word share")
        tokens = answer.split()
        word = expand(tokens[0]) if len(tokens) == 1 else None
        if word is None:
            raise ShareWordInvalid(
                f"The answer for word {position + 1}, {answer.strip()!r}, is not a SLIP-39 word.",
                next_step="Read the word from the share card and type it (four letters are enough).",
            )
        given[position] = word
    wrong = sorted(p for p, w in given.items() if not hmac.compare_digest(w, words[p]))
    if wrong:
        listed = ", ".join(str(p + 1) for p in wrong)
        raise ShareMismatch(
            f"Word{'s' if len(wrong) > 1 else ''} {listed} of the share card do{'' if len(wrong) > 1 else 'es'} "
            f"not match the share shown.",
            next_step="Show the share to the custodian again and have them correct the card.",
        )
