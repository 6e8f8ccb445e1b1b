"""Which word of a complete share is wrong: the single-substitution search.

A SLIP-39 share ends in a three-word RS1024 checksum, a Reed-Solomon code over GF(1024) with
minimum distance 4. When exactly one word of a share is wrong, exactly one single-word
substitution makes the checksum valid again (two codewords cannot both lie one word away from
what was typed), and with two wrong words none does. The search below finds every position
whose substitution satisfies the checksum and keeps only those whose corrected share also
matches the per-share commitment stored when the share was distributed, so a miscorrection
(three or more wrong words) is never pointed at. Only the position leaves this module: never
the corrected word.

How the checksum is reached (shamir-mnemonic, public API only):

* ``shamir_mnemonic.Share.from_mnemonic`` (the package's exported API) is the authority: every
  candidate is confirmed with it, so a position is never reported on our arithmetic alone.
* Trying all 33 x 1023 substitutions through ``Share.from_mnemonic`` costs ~1.5 s here. The
  checksum is affine over GF(2) in the word indices, so the search instead precomputes, once per
  customization string, the checksum change of every single-word difference, using
  ``shamir_mnemonic.rs1024.create_checksum`` (a public function of the package's public
  ``rs1024`` module, the reference checksum itself; not re-exported by ``__init__``, like
  ``shamir_mnemonic.wordlist.WORDLIST`` used elsewhere here). A search is then 33 dictionary
  lookups (~0.1 ms; the tables take ~40 ms once). If that module ever moves, the search falls
  back to the slow exhaustive form; the answers are the same.
"""

from __future__ import annotations

import hmac
from functools import lru_cache
from typing import Iterable, Sequence

from shamir_mnemonic import MnemonicError, Share
from shamir_mnemonic.wordlist import WORDLIST

from vault.shares.model import ShareRef, ShareSetPublic
from vault.shares.parse import commitment

try:  # the fast path (see the module docstring)
    from shamir_mnemonic.rs1024 import create_checksum as _create_checksum
except ImportError:  # pragma: no cover - only with a future shamir-mnemonic
    _create_checksum = None

CHECKSUM_WORDS = 3
_CUSTOMIZATION = (b"shamir", b"shamir_extendable")  # SLIP-39: without / with the extendable flag
_INDEX = {w: i for i, w in enumerate(WORDLIST)}


def _as_int(words: Sequence[int]) -> int:
    value = 0
    for w in words:
        value = (value << 10) | w
    return value


@lru_cache(maxsize=8)
def _tables(customization: bytes, data_len: int) -> tuple[int, tuple[dict[int, int], ...]]:
    """(checksum of all-zero data, per data position: checksum change -> index difference)."""
    assert _create_checksum is not None
    zero = [0] * data_len
    base = _as_int(_create_checksum(zero, customization))
    tables = []
    for pos in range(data_len):
        bits = []
        for b in range(10):
            data = list(zero)
            data[pos] = 1 << b
            bits.append(_as_int(_create_checksum(data, customization)) ^ base)
        table: dict[int, int] = {}
        for d in range(1, 1024):
            delta = 0
            for b in range(10):
                if d >> b & 1:
                    delta ^= bits[b]
            table[delta] = d
        tables.append(table)
    return base, tuple(tables)


def _checksum_candidates(indices: list[int]) -> Iterable[tuple[int, int]]:
    """(position, word index) pairs whose substitution makes the RS1024 checksum valid."""
    n = len(indices) - CHECKSUM_WORDS
    data, typed_checksum = indices[:n], _as_int(indices[n:])
    if _create_checksum is None:  # pragma: no cover - exhaustive fallback
        for pos in range(len(indices)):
            for w in range(1024):
                if w != indices[pos]:
                    yield pos, w
        return
    for customization in _CUSTOMIZATION:
        _, tables = _tables(customization, n)
        syndrome = _as_int(_create_checksum(data, customization)) ^ typed_checksum
        for pos, table in enumerate(tables):
            d = table.get(syndrome)  # the change this position's word must bring
            if d is not None:
                yield pos, indices[pos] ^ d
        for j in range(CHECKSUM_WORDS):  # a wrong checksum word: the data already fixes the right one
            shift = 10 * (CHECKSUM_WORDS - 1 - j)
            if syndrome and syndrome & ~(0x3FF << shift) == 0:
                yield n + j, indices[n + j] ^ (syndrome >> shift)


def _matches_a_commitment(text: str, share: Share, sets: Sequence[ShareSetPublic]) -> bool:
    ref = ShareRef(share.group_index, share.index)
    for public in sets:
        if share.identifier != public.identifier:
            continue
        stored = public.commitment(ref)
        if stored is not None and hmac.compare_digest(commitment(public.commitment_salt, text), stored):
            return True
    return False


def locate_wrong_word(words: Sequence[str], sets: Sequence[ShareSetPublic]) -> int | None:
    """The 1-based position of the one wrong word of ``words``, or None.

    ``words``: a complete share as full lower-case SLIP-39 words whose checksum fails.
    ``sets``: the share sets whose stored commitments may confirm the corrected share.
    None when the checksum is already valid, when a word is not a SLIP-39 word, or when no
    single substitution gives a share that both passes the checksum and matches a commitment
    (then more than one word is wrong).
    """
    try:
        indices = [_INDEX[w] for w in words]
    except KeyError:
        return None
    if len(indices) <= CHECKSUM_WORDS + 4:
        return None
    try:
        Share.from_mnemonic(" ".join(words))
        return None  # the checksum holds: nothing to locate
    except MnemonicError:
        pass
    found: set[int] = set()
    for pos, index in _checksum_candidates(indices):
        if pos in found:
            continue
        candidate = list(words)
        candidate[pos] = WORDLIST[index]
        text = " ".join(candidate)
        try:
            share = Share.from_mnemonic(text)
        except MnemonicError:
            continue
        if _matches_a_commitment(text, share, sets):
            found.add(pos)
        del candidate, text
    return min(found) + 1 if len(found) == 1 else None


def warm_up() -> None:
    """Build the checksum tables now (a front end may call this while the first words are typed)."""
    if _create_checksum is not None:
        for customization in _CUSTOMIZATION:
            _tables(customization, 30)
