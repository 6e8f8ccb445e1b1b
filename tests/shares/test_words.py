"""Share words as people type them: full words or 4-letter prefixes, any case, any spacing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shamir_mnemonic.wordlist import WORDLIST

from vault.errors import ShareWordInvalid
from vault.secret import Secret
from vault.shares import identifying_words, normalise_words
from vault.shares.words import set_words


def test_slip39_words_are_unique_in_their_first_four_letters():
    assert len({w[:4] for w in WORDLIST}) == len(WORDLIST) == 1024


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(WORDLIST), min_size=1, max_size=33),
    cut=st.lists(st.integers(4, 8), min_size=33, max_size=33),
    upper=st.lists(st.booleans(), min_size=33, max_size=33),
    gaps=st.lists(st.sampled_from([" ", "  ", "\t", "\n", " \r\n "]), min_size=33, max_size=33),
)
def test_any_prefix_of_four_or_more_letters_in_any_case_and_spacing_reads_back(words, cut, upper, gaps):
    typed = "".join(
        (w[: cut[i]].upper() if upper[i] else w[: cut[i]]) + gaps[i] for i, w in enumerate(words)
    )
    assert normalise_words(Secret(typed, "share")) == words


def test_every_non_word_is_named_with_its_position_as_typed():
    with pytest.raises(ShareWordInvalid) as err:
        normalise_words("academic acidx ACID zz acid")
    assert err.value.message == "Word 2 'acidx', word 4 'zz' are not SLIP-39 words."


def test_identifying_words_are_the_first_two_in_full():
    assert identifying_words("ACAD  ACID agency alarm") == "academic acid"


def test_set_words_match_what_every_share_of_the_set_starts_with():
    from shamir_mnemonic import Share

    # SLIP-39 vector 20: its set parameters, read by the library, spell its first two words.
    mnemonic = (
        "theory painting academic academic armed sweater year military elder discuss acne wildlife boring "
        "employer fused large satoshi bundle carbon diagnose anatomy hamster leaves tracks paces beyond "
        "phantom capital marvel lips brave detect luck"
    )
    share = Share.from_mnemonic(mnemonic)
    assert set_words(share.identifier, share.extendable, share.iteration_exponent) == "theory painting"
