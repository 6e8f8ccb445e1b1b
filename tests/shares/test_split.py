"""Splitting the quorum secret: SLIP-39 shares, commitments, a check value, and no leaks."""

from __future__ import annotations

import json

from shamir_mnemonic import combine_mnemonics

from vault.secret import Secret
from vault.shares import SHARE_WORDS, ShareRef, ShareSetPublic, check_value

from .conftest import QS, PASSPHRASE, text


def test_every_share_is_a_standard_33_word_slip39_mnemonic(three_of_five):
    assert [ref for ref, _ in three_of_five.shares] == [ShareRef(0, m) for m in range(5)]
    for _, share in three_of_five.shares:
        assert isinstance(share, Secret) and share.kind == "share"
        assert len(share.reveal_text().split()) == SHARE_WORDS
        assert share.reveal_text().startswith(three_of_five.public.identifying_words + " ")
    chosen = [text(three_of_five, 0, m) for m in (4, 1, 3)]
    assert combine_mnemonics(chosen) == QS.reveal()  # break glass: the reference library alone


def test_the_passphrase_is_the_slip39_passphrase(with_passphrase):
    chosen = [text(with_passphrase, 0, 0), text(with_passphrase, 0, 1)]
    assert combine_mnemonics(chosen, passphrase=PASSPHRASE.encode()) == QS.reveal()
    assert with_passphrase.public.passphrase is True


def test_the_public_record_holds_one_commitment_per_share_and_no_share(two_of_three_groups):
    public = two_of_three_groups.public
    assert [ref for ref, _ in public.commitments] == list(public.refs())
    assert len({c for _, c in public.commitments}) == 9
    assert public.check_value == check_value(QS)
    stored = json.dumps(public.to_dict())
    assert ShareSetPublic.from_dict(json.loads(stored)) == public
    for _, share in two_of_three_groups.shares:
        for word in share.reveal_text().split()[2:]:
            assert f'"{word}"' not in stored and f" {word} " not in stored
    assert QS.reveal().hex() not in stored


def test_a_split_result_never_shows_a_share_in_its_repr(two_of_three_groups):
    shown = repr(two_of_three_groups)
    for _, share in two_of_three_groups.shares:
        assert share.reveal_text().split()[5] not in shown.split()
    assert "<Secret share redacted>" in shown


def test_two_splits_of_one_secret_are_different_sets(three_of_five, other_three_of_five):
    assert three_of_five.public.commitment_salt != other_three_of_five.public.commitment_salt
    assert three_of_five.public.identifier != other_three_of_five.public.identifier or (
        three_of_five.public.commitments != other_three_of_five.public.commitments
    )
