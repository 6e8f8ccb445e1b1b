"""Custodians present their shares one at a time; every mistake is named at entry, precisely,
without echoing more of a share than its two set-identifying words."""

from __future__ import annotations

import dataclasses

import pytest

from vault.errors import (
    QuorumCheckFailed,
    QuorumIncomplete,
    ShareChecksumInvalid,
    ShareConflict,
    ShareDuplicate,
    ShareForeign,
    ShareLengthInvalid,
    ShareMismatch,
    ShareRetired,
    ShareWordInvalid,
)
from vault.secret import Secret
from vault.shares import KnownShareSet, ShareCollector, ShareRef

from .conftest import PASSPHRASE, QS, assert_echoes_only_set_words, forged, text


def collector(result, **kw) -> ShareCollector:
    return ShareCollector(result.public, ceremony_id="cer-1", **kw)


def test_three_custodians_open_the_quorum(three_of_five):
    c = collector(three_of_five)
    assert c.add(text(three_of_five, 0, 4)).describe() == "1 of 3 shares"
    assert c.add(Secret(text(three_of_five, 0, 0), "share")).describe() == "2 of 3 shares"
    progress = c.add(text(three_of_five, 0, 2))
    assert progress.is_complete and progress.last == ShareRef(0, 2)
    assert c.recover(None) == QS
    assert c.entered == (ShareRef(0, 0), ShareRef(0, 2), ShareRef(0, 4))


def test_prefixes_odd_case_and_spacing_are_accepted(three_of_five):
    words = text(three_of_five, 0, 1).split()
    typed = "  " + "\t".join(w[:4].upper() if i % 2 else w.capitalize() for i, w in enumerate(words)) + "\n"
    progress = collector(three_of_five).add(typed)
    assert progress.last == ShareRef(0, 1)


def test_a_word_that_is_not_a_slip39_word_is_named_by_position_as_typed(three_of_five):
    share = text(three_of_five, 0, 1)
    words = share.split()
    words[6] = "Qwzx"
    c = collector(three_of_five)
    with pytest.raises(ShareWordInvalid) as err:
        c.add(" ".join(words))
    assert "Word 7 'Qwzx' is not a SLIP-39 word" in err.value.message
    assert_echoes_only_set_words(str(err.value), share, three_of_five.public.identifying_words)
    assert c.progress().groups[0].entered == 0


def test_a_too_short_prefix_is_not_a_word(three_of_five):
    words = text(three_of_five, 0, 1).split()
    words[10] = words[10][:3]
    with pytest.raises(ShareWordInvalid, match="Word 11"):
        collector(three_of_five).add(" ".join(words))


def test_a_missing_word_is_a_wrong_length(three_of_five):
    share = text(three_of_five, 0, 1)
    with pytest.raises(ShareLengthInvalid) as err:
        collector(three_of_five).add(" ".join(share.split()[:-1]))
    assert "32 words" in err.value.message and "33" in err.value.message
    assert "missing" in err.value.next_step
    assert_echoes_only_set_words(str(err.value), share, three_of_five.public.identifying_words)


def test_a_swapped_word_fails_the_checksum_naming_only_the_set_words(three_of_five):
    share = text(three_of_five, 0, 1)
    words = share.split()
    words[12], words[13] = words[13], words[12]
    if words[12] == words[13]:
        words[12] = "academic" if words[12] != "academic" else "acid"
    with pytest.raises(ShareChecksumInvalid) as err:
        collector(three_of_five).add(" ".join(words))
    assert "checksum" in err.value.message
    assert three_of_five.public.identifying_words in err.value.message
    assert_echoes_only_set_words(str(err.value), share, three_of_five.public.identifying_words)


def test_a_share_of_an_unknown_set_is_foreign(three_of_five, other_three_of_five):
    stray = text(other_three_of_five, 0, 0)
    with pytest.raises(ShareForeign) as err:
        collector(three_of_five).add(stray)
    assert other_three_of_five.public.identifying_words in err.value.message
    assert three_of_five.public.identifying_words in err.value.message
    assert "does not know" in err.value.message
    assert_echoes_only_set_words(str(err.value), stray, three_of_five.public.identifying_words)


def test_a_share_of_a_known_set_is_named(three_of_five, other_three_of_five):
    known = [KnownShareSet(7, other_three_of_five.public, "root-2027", "pending")]
    stray = text(other_three_of_five, 0, 3)
    with pytest.raises(ShareForeign) as err:
        collector(three_of_five, known=known).add(stray)
    assert "'root-2027' (pending)" in err.value.message
    assert "member 4 of group 1" in err.value.message
    assert_echoes_only_set_words(str(err.value), stray, three_of_five.public.identifying_words)


def test_a_known_set_is_named_only_when_its_commitments_confirm_it(three_of_five, other_three_of_five):
    impostor = dataclasses.replace(other_three_of_five.public, commitment_salt="00" * 16)
    known = [KnownShareSet(7, impostor, "root-2027", "active")]
    with pytest.raises(ShareForeign) as err:
        collector(three_of_five, known=known).add(text(other_three_of_five, 0, 3))
    assert "root-2027" not in err.value.message


def test_a_share_of_a_retired_set_names_the_retirement_date(three_of_five, other_three_of_five):
    known = [
        KnownShareSet(1, three_of_five.public, "root-2026", "active"),
        KnownShareSet(3, other_three_of_five.public, "root-2024", "retired", "2025-03-01"),
    ]
    stray = text(other_three_of_five, 0, 1)
    with pytest.raises(ShareRetired) as err:
        collector(three_of_five, known=known).add(stray)
    assert "'root-2024'" in err.value.message and "retired on 2025-03-01" in err.value.message
    assert_echoes_only_set_words(str(err.value), stray, three_of_five.public.identifying_words)


def test_the_same_share_twice_is_a_duplicate_naming_member_and_group(two_of_three_groups):
    c = collector(two_of_three_groups)
    c.add(text(two_of_three_groups, 1, 2))
    with pytest.raises(ShareDuplicate) as err:
        c.add(text(two_of_three_groups, 1, 2).upper())
    assert "Member 3 of group 2 was already entered" in err.value.message
    assert c.progress().groups[1].entered == 1


def test_other_words_under_a_number_already_entered_conflict(three_of_five):
    c = collector(three_of_five)
    c.add(text(three_of_five, 0, 2))
    wrong = forged(text(three_of_five, 0, 2))
    with pytest.raises(ShareConflict) as err:
        c.add(wrong)
    assert "Member 3 of group 1 was already entered, with other words" in err.value.message
    assert isinstance(err.value, ShareMismatch)
    assert_echoes_only_set_words(str(err.value), wrong, three_of_five.public.identifying_words)


def test_a_miswritten_share_is_named_before_combining(three_of_five):
    wrong = forged(text(three_of_five, 0, 2))
    c = collector(three_of_five)
    with pytest.raises(ShareMismatch) as err:
        c.add(wrong)
    assert err.value.message == "Member 3 of group 1 does not match what was distributed."
    assert c.entered == ()


def test_too_few_shares_do_not_recover(three_of_five):
    c = collector(three_of_five)
    c.add(text(three_of_five, 0, 0))
    c.add(text(three_of_five, 0, 1))
    assert not c.is_complete
    with pytest.raises(QuorumIncomplete, match="2 of 3 shares"):
        c.recover(None)


def test_group_progress_counts_shares_and_complete_groups(two_of_three_groups):
    c = collector(two_of_three_groups)
    c.add(text(two_of_three_groups, 2, 0))
    progress = c.add(text(two_of_three_groups, 0, 1))
    assert progress.describe() == (
        "group 1: 1 of 2 shares; group 2: 0 of 3 shares; group 3: 1 of 1 shares; 1 of 2 groups complete"
    )
    with pytest.raises(QuorumIncomplete, match="1 of 2 groups complete"):
        c.recover(None)
    assert c.add(text(two_of_three_groups, 0, 2)).is_complete
    assert c.recover(None) == QS


def test_a_wrong_passphrase_is_caught_by_the_check_value(with_passphrase):
    c = collector(with_passphrase)
    c.add(text(with_passphrase, 0, 0))
    c.add(text(with_passphrase, 0, 2))
    with pytest.raises(QuorumCheckFailed) as err:
        c.recover(Secret("correct horse battery!", "passphrase"))
    assert "passphrase is wrong" in err.value.message
    with pytest.raises(QuorumCheckFailed, match="made with a passphrase"):
        c.recover(None)
    assert c.recover(Secret(PASSPHRASE, "passphrase")) == QS


def test_a_consistent_set_of_another_quorum_is_caught_by_the_check_value(three_of_five):
    lied_about = dataclasses.replace(three_of_five.public, check_value="00" * 16)
    c = ShareCollector(lied_about, ceremony_id="cer-1")
    for m in (0, 1, 2):
        c.add(text(three_of_five, 0, m))
    with pytest.raises(QuorumCheckFailed, match="check value"):
        c.recover(None)


def test_wipe_forgets_and_wipes_every_share_held(three_of_five):
    c = collector(three_of_five)
    c.add(text(three_of_five, 0, 0))
    c.add(text(three_of_five, 0, 1))
    held = [s.text for s in c._shares.values()]  # white-box: the Secrets the collector holds
    c.wipe()
    assert all(s.wiped for s in held)
    assert c.entered == () and c.progress().groups[0].entered == 0


def test_repr_shows_the_set_and_progress_only(three_of_five):
    c = collector(three_of_five)
    share = text(three_of_five, 0, 0)
    c.add(share)
    assert repr(c) == f"<ShareCollector set {three_of_five.public.identifying_words!r} 1 of 3 shares>"
    assert_echoes_only_set_words(repr(c), share, three_of_five.public.identifying_words)
    assert c.ceremony_id == "cer-1"


def test_messages_name_the_custodian_who_holds_the_member(three_of_five, other_three_of_five):
    from vault.shares import ShareRef

    holders = {ShareRef(0, m): n for m, n in enumerate(("alice", "bob", "carol", "dave", "erin"))}
    c = collector(three_of_five, holders=holders)
    c.add(text(three_of_five, 0, 1))
    with pytest.raises(ShareDuplicate) as err:
        c.add(text(three_of_five, 0, 1))
    assert err.value.message.startswith("The share of bob (member 2 of group 1) was already entered")
    with pytest.raises(ShareMismatch) as err:
        c.add(forged(text(three_of_five, 0, 3)))
    assert err.value.message == "The share of dave (member 4 of group 1) does not match what was distributed."
    known = [KnownShareSet(3, other_three_of_five.public, "root-2024", "retired", "2025-03-01",
                           tuple((ShareRef(0, m), n) for m, n in enumerate(("olga", "pete", "quin", "rita", "sam"))))]
    with pytest.raises(ShareRetired) as err:
        collector(three_of_five, known=known).add(text(other_three_of_five, 0, 2))
    assert "This share (quin's, member 3 of group 1," in err.value.message
