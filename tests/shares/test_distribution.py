"""Handing out shares: each custodian proves the card is right before the ceremony commits."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.errors import ShareForeign, ShareMismatch, ShareWordInvalid
from vault.shares import ShareRef, check_quiz, quiz_positions, verify_share_back

from .conftest import assert_echoes_only_set_words, forged, text


def test_the_custodian_re_enters_the_share_just_shown(three_of_five):
    share = text(three_of_five, 0, 3)
    verify_share_back(three_of_five.public, ShareRef(0, 3), " ".join(w[:4].upper() for w in share.split()))


def test_a_card_written_wrongly_is_named(three_of_five):
    wrong = forged(text(three_of_five, 0, 3))
    with pytest.raises(ShareMismatch) as err:
        verify_share_back(three_of_five.public, ShareRef(0, 3), wrong)
    assert err.value.message == "Member 4 of group 1 does not match what was distributed."


def test_another_custodians_share_is_not_accepted_as_this_one(three_of_five):
    with pytest.raises(ShareMismatch) as err:
        verify_share_back(three_of_five.public, ShareRef(0, 3), text(three_of_five, 0, 1))
    assert "share of member 2 of group 1, but member 4 of group 1 is being verified" in err.value.message


def test_a_share_of_another_set_is_foreign(three_of_five, other_three_of_five):
    with pytest.raises(ShareForeign):
        verify_share_back(three_of_five.public, ShareRef(0, 0), text(other_three_of_five, 0, 0))


def test_a_typo_is_named_by_position(three_of_five):
    words = text(three_of_five, 0, 0).split()
    words[20] = "zzzz"
    with pytest.raises(ShareWordInvalid, match="Word 21 'zzzz'"):
        verify_share_back(three_of_five.public, ShareRef(0, 0), " ".join(words))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), word_count=st.sampled_from([20, 33, 59]))
def test_quiz_asks_one_word_from_each_third_never_the_set_words(seed, word_count):
    a, b, c = quiz_positions(word_count, random.Random(seed))
    assert 2 <= a < word_count // 3 <= b < 2 * word_count // 3 <= c < word_count


def test_quiz_answers_in_any_case_or_as_prefixes_pass(three_of_five):
    share = text(three_of_five, 0, 2)
    words = share.split()
    positions = quiz_positions(len(words), random.Random(7))
    check_quiz(share, {p: words[p][:4].upper() for p in positions})


def test_a_wrong_quiz_answer_names_the_position_not_the_word(three_of_five):
    share = text(three_of_five, 0, 2)
    words = share.split()
    a, b, c = quiz_positions(len(words), random.Random(3))
    wrong = "academic" if words[b] != "academic" else "acid"
    with pytest.raises(ShareMismatch) as err:
        check_quiz(share, {a: words[a], b: wrong, c: words[c]})
    assert f"Word {b + 1} of the share card does not match" in err.value.message
    assert_echoes_only_set_words(str(err.value), share)


def test_a_quiz_answer_that_is_no_word_is_named(three_of_five):
    with pytest.raises(ShareWordInvalid, match="answer for word 12, 'blorp'"):
        check_quiz(text(three_of_five, 0, 2), {11: "blorp"})
