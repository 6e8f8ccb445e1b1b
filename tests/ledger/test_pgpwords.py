"""The PGP word list and ``pgp_words``: known vectors from the list's spec and two implementations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.ledger import pgp_words
from vault.pgpwords import EVEN, ODD, bytes_for, words_for


def test_two_bytes():
    assert pgp_words("E5 82") == "topmost Istanbul"


def test_the_spec_example_fingerprint():
    # The 20-byte example in the PGP word list's description (PGPfone / Wikipedia).
    assert pgp_words("E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19") == (
        "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa "
        "afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"
    )


@pytest.mark.parametrize(("hex_text", "words"), [
    # thblt/pgp-words README
    ("d1c2 25e4 26c6 33dd 94d1 a7e8 c3f4 08aa 9b34 2488",
     "stairway repellent bombast tradition bookshelf responsive chisel tambourine Pluto scavenger repay "
     "typewriter snowcap Virginia aimless pedigree puppy confidence bluebird maritime"),
    # warrenguy/ruby-pgp-word-list README
    ("D1D4 64C0 04F0 0FB5 C9A4 C8D8 E433 E7FB 7FF5 6256",
     "stairway souvenir flytrap recipe adrift upcoming artist positive spearhead Pandora spaniel stupendous "
     "tonic concurrent transit Wichita lockup visitor flagpole escapade"),
])
def test_vectors_from_other_implementations(hex_text, words):
    assert pgp_words(hex_text) == words


def test_list_edges_and_parity():
    assert (EVEN[0x00], ODD[0x00], EVEN[0xFF], ODD[0xFF]) == ("aardvark", "adroitness", "Zulu", "Yucatan")
    assert words_for(b"\x9e\x9e") == ["quiver", "onlooker"]  # one byte, two words by position
    assert len(EVEN) == len(ODD) == 256
    assert len({w.lower() for w in EVEN + ODD}) == 512


def test_bad_hex_is_refused():
    with pytest.raises(ValueError):
        pgp_words("abc")
    with pytest.raises(ValueError):
        pgp_words("zz")
    with pytest.raises(ValueError, match="word 2"):
        bytes_for(["topmost", "topmost"])


@given(st.binary(max_size=40))
def test_words_round_trip(data):
    assert bytes_for([w.upper() for w in words_for(data)]) == data
    assert pgp_words(data.hex()) == " ".join(words_for(data))
