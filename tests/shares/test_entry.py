"""Share entry as it is typed: the first four words name the share's set, number and holder, and a
complete share that fails its checksum points to the one wrong word (position only)."""

from __future__ import annotations

import random

import pytest
from shamir_mnemonic import Share
from shamir_mnemonic.wordlist import WORDLIST

from vault.shares import GroupSpec, KnownShareSet, QuorumPolicy, ShareRef
from vault.shares.entry import EntryGuide, decode_prefix, located_message
from vault.shares.locate import locate_wrong_word

from .conftest import forged, make, text


def _all_shares(result):
    return [(ref, s.reveal_text()) for ref, s in result.shares]


@pytest.mark.parametrize("policy", [
    QuorumPolicy.simple(3, 5, iteration_exponent=0),
    QuorumPolicy.simple(1, 1, iteration_exponent=2),
    QuorumPolicy(2, (GroupSpec(2, 3), GroupSpec(3, 5), GroupSpec(1, 1)), iteration_exponent=1),
])
def test_the_prefix_decodes_as_the_library_parses_the_whole_share(policy):
    for _ref, share_text in _all_shares(make(policy)):
        words = share_text.split()
        share = Share.from_mnemonic(share_text)
        two = decode_prefix(words[:2])
        assert (two.identifier, two.extendable, two.iteration_exponent, two.ref) == (
            share.identifier, share.extendable, share.iteration_exponent, None)
        four = decode_prefix(words[:4])
        assert four.ref == ShareRef(share.group_index, share.index)
        assert (four.group_threshold, four.group_count, four.member_threshold) == (
            share.group_threshold, share.group_count, share.member_threshold)
        assert four.set_words == " ".join(words[:2])


def test_fewer_than_two_words_or_a_non_word_decode_to_nothing():
    assert decode_prefix([]) is None
    assert decode_prefix(["academic"]) is None
    assert decode_prefix(["academic", "qwzx", "acid", "acid"]) is None


def _guide(result, name="main", **kw):
    holders = tuple((ref, n) for (ref, _), n in zip(result.shares, ("alice", "bob", "carol", "dave", "erin")))
    return EntryGuide(result.public, name, holders, **kw)


def test_four_words_say_whose_share_it_is(three_of_five):
    words = text(three_of_five, 0, 1).split()
    guide = _guide(three_of_five)
    assert guide.check_prefix(words[:1]) is None
    assert guide.check_prefix(words[:2]) is None  # the right set; the number comes with word 4
    assert guide.check_prefix(words[:3]) is None
    verdict = guide.check_prefix(words[:4])
    assert verdict.ok and verdict.holder == "bob"
    assert verdict.message == "bob's share (share 2) of share set 'main'"


def test_a_duplicate_is_named_at_word_four_with_the_holder(three_of_five):
    words = text(three_of_five, 0, 2).split()
    verdict = _guide(three_of_five, entered=(ShareRef(0, 2),)).check_prefix(words[:4])
    assert not verdict.ok and verdict.code == "SHARE_DUPLICATE"
    assert verdict.message == "Carol's share (share 3) was already entered in this quorum."


def test_a_retired_set_is_named_at_word_two_and_its_holder_at_word_four(three_of_five, other_three_of_five):
    retired = KnownShareSet(7, other_three_of_five.public, "set-2025", "retired", "2026-01-02T10:00:00Z")
    guide = _guide(three_of_five, known=(retired,), known_holders=((7, ShareRef(0, 3), "dave"),))
    words = text(other_three_of_five, 0, 3).split()
    early = guide.check_prefix(words[:2])
    assert not early.ok and early.code == "SHARE_RETIRED"
    assert early.message == "This is a share of share set 'set-2025', retired on 2026-01-02: it opens nothing any more."
    named = guide.check_prefix(words[:4])
    assert named.message.startswith("This is dave's share (share 4) of share set 'set-2025', retired on 2026-01-02")


def test_an_unknown_set_is_foreign_at_word_two(three_of_five, other_three_of_five):
    verdict = _guide(three_of_five).check_prefix(text(other_three_of_five, 0, 0).split()[:2])
    assert not verdict.ok and verdict.code == "SHARE_FOREIGN"
    assert "belongs to no share set this console knows" in verdict.message
    assert three_of_five.public.identifying_words in verdict.message


def test_words_three_and_four_that_do_not_fit_the_set_are_pointed_at(three_of_five):
    words = text(three_of_five, 0, 0).split()
    bad = None
    for w in WORDLIST:  # a word 4 that makes the member threshold impossible for this set
        p = decode_prefix(words[:3] + [w])
        if p.member_threshold != 3:
            bad = w
            break
    verdict = _guide(three_of_five).check_prefix(words[:3] + [bad])
    assert not verdict.ok and "words 3-4 do not fit its 3-of-5 shape" in verdict.message
    assert "Compare words 3 and 4" in verdict.next_step


def test_type_back_of_someone_elses_share_is_named(three_of_five):
    guide = _guide(three_of_five, own=ShareRef(0, 0), custodian="alice")
    verdict = guide.check_prefix(text(three_of_five, 0, 1).split()[:4])
    assert not verdict.ok and verdict.code == "SHARE_MISMATCH"
    assert verdict.message == "Words 3-4 are those of bob's share (share 2), not of alice's share (share 1)."
    assert guide.check_prefix(text(three_of_five, 0, 0).split()[:4]).ok


def test_group_shares_are_described_with_their_group(two_of_three_groups):
    guide = EntryGuide(two_of_three_groups.public, "g", ((ShareRef(1, 4), "erin"),))
    verdict = guide.check_prefix(text(two_of_three_groups, 1, 4).split()[:4])
    assert verdict.ok and verdict.message == "erin's share (group 2, share 5) of share set 'g'"


# --- the wrong word of a complete share -------------------------------------------------------
def test_every_single_wrong_word_is_located_at_its_position(three_of_five):
    rng = random.Random(11)
    for ref, share_text in _all_shares(three_of_five):
        words = share_text.split()
        for pos in range(33):  # every position, the checksum words included
            typed = list(words)
            typed[pos] = rng.choice([w for w in WORDLIST if w != words[pos]])
            assert locate_wrong_word(typed, [three_of_five.public]) == pos + 1, (ref, pos)


def test_a_substitution_that_flips_the_extendable_flag_is_located(three_of_five):
    words = text(three_of_five, 0, 0).split()
    flipped = WORDLIST[WORDLIST.index(words[1]) ^ 0x10]  # word 2 bit 4: SLIP-39's extendable flag
    typed = [words[0], flipped, *words[2:]]
    assert decode_prefix(typed).extendable != decode_prefix(words).extendable
    assert locate_wrong_word(typed, [three_of_five.public]) == 2


def test_two_wrong_words_are_never_pointed_at(three_of_five):
    rng = random.Random(5)
    words = text(three_of_five, 0, 3).split()
    for _ in range(200):
        a, b = rng.sample(range(33), 2)
        typed = list(words)
        typed[a] = rng.choice([w for w in WORDLIST if w != words[a]])
        typed[b] = rng.choice([w for w in WORDLIST if w != words[b]])
        assert locate_wrong_word(typed, [three_of_five.public]) is None


def test_a_checksum_valid_miswritten_card_is_not_pointed_at(three_of_five):
    """The commitment, not the checksum alone, decides: a card whose words pass the checksum but
    are not what was distributed (three or more words wrong) with one more typo is not located."""
    card = forged(text(three_of_five, 0, 1)).split()
    typed = list(card)
    typed[10] = WORDLIST[(WORDLIST.index(card[10]) + 1) % 1024]
    assert locate_wrong_word(typed, []) is None  # no stored record: nothing confirms a position
    assert locate_wrong_word(typed, [three_of_five.public]) is None
    # with the record of the card's own (forged) set it would be confirmed: the commitment decides
    right = text(three_of_five, 0, 1).split()
    typed = list(right)
    typed[10] = WORDLIST[(WORDLIST.index(right[10]) + 1) % 1024]
    assert locate_wrong_word(typed, []) is None
    assert locate_wrong_word(typed, [three_of_five.public]) == 11


def test_a_valid_share_or_a_non_word_locates_nothing(three_of_five):
    words = text(three_of_five, 0, 0).split()
    assert locate_wrong_word(words, [three_of_five.public]) is None
    assert locate_wrong_word(words[:-1] + ["qwzx"], [three_of_five.public]) is None


def test_the_guide_locates_with_the_expected_and_known_sets(three_of_five):
    words = text(three_of_five, 0, 4).split()
    words[20] = WORDLIST[(WORDLIST.index(words[20]) + 7) % 1024]
    assert _guide(three_of_five).locate(words) == 21
    message, next_step = located_message(21)
    assert message.startswith("Word 21 is wrong") and "word 21" in next_step
    assert "more than one word" in located_message(None)[0]


def test_the_collector_and_verify_back_name_the_wrong_word(three_of_five):
    from vault.errors import ShareChecksumInvalid
    from vault.shares import ShareCollector, verify_share_back

    from .conftest import assert_echoes_only_set_words

    share = text(three_of_five, 0, 2)
    words = share.split()
    words[14] = WORDLIST[(WORDLIST.index(words[14]) + 3) % 1024]
    with pytest.raises(ShareChecksumInvalid) as err:
        ShareCollector(three_of_five.public, ceremony_id="c").add(" ".join(words))
    assert "word 15 is wrong" in err.value.message and "word 15" in err.value.next_step
    assert_echoes_only_set_words(str(err.value), share, three_of_five.public.identifying_words)
    with pytest.raises(ShareChecksumInvalid) as err:
        verify_share_back(three_of_five.public, ShareRef(0, 2), " ".join(words))
    assert "word 15 is wrong" in err.value.message
