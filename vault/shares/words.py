"""Typed share words: full SLIP-39 words or their unique 4-letter prefixes, any case, any spacing.

SLIP-39's 1024 words are unique in their first four letters, so a prefix of at least four letters
names exactly one word. A typed token that is not a word (nor a prefix of one) is reported with
its position and as typed: a non-word carries nothing of the secret. Correct words are never
echoed, except the first two of a share, which only identify its set (15-bit identifier,
extendable flag, iteration exponent) and are the same on every share of that set.
"""

from __future__ import annotations

from shamir_mnemonic.wordlist import WORDLIST

from vault.errors import ShareWordInvalid
from vault.secret import Secret

IDENTIFYING_WORDS = 2
_WORDS = frozenset(WORDLIST)
_BY_PREFIX = {word[:4]: word for word in WORDLIST}


def _text(text: str | Secret) -> str:
    return text.reveal_text() if isinstance(text, Secret) else text


def expand(token: str) -> str | None:
    """The SLIP-39 word that ``token`` spells or abbreviates (>= 4 letters), else None."""
    token = token.lower()
    if token in _WORDS:
        return token
    word = _BY_PREFIX.get(token[:4]) if len(token) >= 4 else None
    return word if word is not None and word.startswith(token) else None


def normalise_words(text: str | Secret) -> list[str]:
    """Full lower-case words; ``ShareWordInvalid`` names every token that is not a word."""
    tokens = _text(text).split()
    words = [expand(t) for t in tokens]
    bad = [(i, t) for i, (t, w) in enumerate(zip(tokens, words)) if w is None]
    if bad:
        listed = ", ".join(f"word {i + 1} {t!r}" for i, t in bad)
        noun = "is not a SLIP-39 word" if len(bad) == 1 else "are not SLIP-39 words"
        raise ShareWordInvalid(
            f"{listed[0].upper()}{listed[1:]} {noun}.",
            next_step="Check the word(s) against the share card and type them again "
            "(the first four letters of a word are enough).",
        )
    return [w for w in words if w is not None]


def canonical(words: list[str]) -> str:
    """The one spelling of a share that commitments are computed over: lower case, single spaces."""
    return " ".join(words)


def identifying_words(text: str | Secret) -> str:
    """The first two words of a share: they name its set and reveal nothing of the secret."""
    return canonical(normalise_words(" ".join(_text(text).split()[:IDENTIFYING_WORDS])))


def set_words(identifier: int, extendable: bool, iteration_exponent: int) -> str:
    """The two words every share of a set starts with (SLIP-39: id 15 bits | ext 1 | exp 4)."""
    value = (identifier << 5) | (int(extendable) << 4) | iteration_exponent
    return f"{WORDLIST[value >> 10]} {WORDLIST[value & 0x3FF]}"
