"""Quorum activation and token initialisation, on a real SoftHSM token."""

from __future__ import annotations

import pytest

from vault.errors import QuorumCheckFailed, ShareRetired, TokenInUse
from vault.operations import ActiveQuorum, activate, initialise_token, open_token_session
from vault.shares import ShareCollector

from .conftest import CEREMONY, actions, last_event, new_share_set


def test_two_custodians_activate_the_quorum(practice_vault, kit):
    collector = ShareCollector(kit.public, ceremony_id=CEREMONY)
    collector.add(kit.mnemonics[0])
    collector.add(kit.mnemonics[2])
    quorum = activate(practice_vault, collector, None)
    assert quorum.share_set_id == kit.quorum.share_set_id
    assert quorum.kek() == kit.quorum.kek()
    event = last_event(practice_vault, "quorum.activated")
    assert event.details["shares_entered"] == [[0, 0], [0, 2]]
    assert "redacted" not in repr(quorum) and "active" in repr(quorum)
    for secret in (kit.mnemonics[0], quorum.kek()):
        assert secret.reveal().hex() not in event.details_json
    quorum.wipe()
    assert "wiped" in repr(quorum)


def test_a_quorum_secret_of_another_set_is_refused(practice_vault, kit):
    other = new_share_set(practice_vault, "set-2")
    with pytest.raises(QuorumCheckFailed):
        ActiveQuorum(other.quorum._qs, kit.quorum.share_set)


def test_a_retired_set_opens_nothing(practice_vault, kit):
    practice_vault.store.retire_share_set(kit.quorum.share_set_id)
    collector = ShareCollector(kit.public, ceremony_id=CEREMONY)
    collector.add(kit.mnemonics[0])
    collector.add(kit.mnemonics[1])
    with pytest.raises(ShareRetired):
        activate(practice_vault, collector, None)
    assert "quorum.activated" not in actions(practice_vault)


def test_initialise_token_records_label_and_serial(practice_vault, quorum):
    info = initialise_token(practice_vault, quorum, ceremony_id=CEREMONY)
    assert info.label == "custodian-practice" and info.user_pin_initialised
    assert practice_vault.store.get_setting("token.serial") == info.serial
    event = last_event(practice_vault, "token.initialised")
    assert event.details["serial"] == info.serial and event.details["replacement"] is False
    with open_token_session(practice_vault, quorum) as session:  # the PIN derived from the QS opens it
        assert session.list_keys() == []


def test_a_second_token_needs_an_explicit_replacement(practice_vault, quorum):
    first = initialise_token(practice_vault, quorum)
    with pytest.raises(TokenInUse):
        initialise_token(practice_vault, quorum, "another-token")
    with pytest.raises(TokenInUse):  # the same label again: never re-initialised
        initialise_token(practice_vault, quorum, first.label, replacement=True)
    assert [t.serial for t in practice_vault.hsm().tokens()] == [first.serial]
    replacement = initialise_token(practice_vault, quorum, "replacement-token", replacement=True)
    assert practice_vault.store.get_setting("token.serial") == replacement.serial
    assert last_event(practice_vault, "token.initialised").details["previous_serial"] == first.serial
