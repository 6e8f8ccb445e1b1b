"""Reconciling the token with the database; re-backing up under a new quorum and retiring the old one."""

from __future__ import annotations

import pytest

from vault.errors import BundleForeign, PinIncorrect, ShareRetired, StoreError
from vault.operations import (
    activate,
    generate_key,
    open_token_session,
    rebackup_all,
    reconcile,
    restore_backup,
    retire_share_set,
    write_backup,
)
from vault.shares import ShareCollector
from vault.types import KeyAlgorithm

from .conftest import CEREMONY, last_event, new_share_set


def test_reconcile_reports_orphans_and_missing_keys_and_deletes_nothing(practice_vault, session):
    generate_key(practice_vault, session, "recorded", KeyAlgorithm.AES_256)
    gone = generate_key(practice_vault, session, "vanished", KeyAlgorithm.EC_P256)
    session.destroy(session.get_key("vanished"))  # behind the vault's back
    session.generate("orphan", KeyAlgorithm.AES_256)  # e.g. a crash between HSM and database
    report = reconcile(practice_vault, session)
    assert [k.label for k in report.unknown_on_token] == ["orphan"]
    assert [r.id for r in report.missing_from_token] == [gone.id]
    assert not report.ok and "1 unknown" in report.describe()
    assert {k.label for k in session.list_keys()} == {"recorded", "orphan"}  # nothing deleted
    assert reconcile(practice_vault, None).token_checked is False


def test_reshare_rebacks_up_under_the_new_kek_and_the_old_shares_open_nothing(
    practice_vault, session, kit, tmp_path
):
    generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    old_bundle = tmp_path / "old.bundle"
    write_backup(practice_vault, session, kit.quorum, old_bundle)
    with pytest.raises(StoreError):  # the latest backup is still under the old set
        retire_share_set(practice_vault, kit.quorum.share_set_id, reason="reshare")
    new = new_share_set(practice_vault, "set-2")
    result = rebackup_all(practice_vault, session, new.quorum, tmp_path / "new.bundle", ceremony_id=CEREMONY,
                          pins=kit.quorum)  # the token still has the old set's PINs
    assert result.share_set_id == new.quorum.share_set_id
    assert result.kek_check_value == new.quorum.kek_check_value() != kit.quorum.kek_check_value()
    retire_share_set(practice_vault, kit.quorum.share_set_id, reason="custodian left", ceremony_id=CEREMONY)
    assert last_event(practice_vault, "share_set.retired").details["reason"] == "custodian left"
    collector = ShareCollector(kit.public, ceremony_id=CEREMONY)
    collector.add(kit.mnemonics[0])
    collector.add(kit.mnemonics[1])
    with pytest.raises(ShareRetired):
        activate(practice_vault, collector, None)
    with pytest.raises(BundleForeign):  # the new quorum does not open the old bundle
        restore_backup(practice_vault, session, new.quorum, old_bundle)


def _activate_with_holders(vault, record, public):
    """Record a verified holder for every share (placeholder custodians) and activate the set."""
    from vault.types import Role

    for i, ref in enumerate(public.refs()):
        name = f"custodian-{record.id}-{i}"
        custodian = vault.store.add_custodian(name, Role.CUSTODIAN, "pem", "verifier", {}, b"x")
        holder = vault.store.add_share_holder(record.id, custodian.id, group_index=ref.group,
                                              member_index=ref.member, commitment=public.commitment(ref))  # fmt: skip
        vault.store.mark_share_distributed(holder.id)
        vault.store.mark_share_verified(holder.id)
    return vault.store.activate_share_set(record.id)


def _with_holders(vault, record, public):
    """Record a verified holder for every share (placeholder custodians); the set stays pending."""
    from vault.types import Role

    for i, ref in enumerate(public.refs()):
        custodian = vault.store.add_custodian(f"custodian-{record.id}-{i}", Role.CUSTODIAN, "pem", "verifier", {}, b"x")
        holder = vault.store.add_share_holder(record.id, custodian.id, group_index=ref.group,
                                              member_index=ref.member, commitment=public.commitment(ref))  # fmt: skip
        vault.store.mark_share_distributed(holder.id)
        vault.store.mark_share_verified(holder.id)
    return vault.store.get_share_set(record.id)


def _new_split():
    import os

    from vault import shares

    qs = shares.new_quorum_secret(os.urandom(32))
    return qs, shares.split(qs, shares.QuorumPolicy.simple(2, 3, iteration_exponent=0), None).public


def _record_pending(vault, public, name):
    def record_pending():
        record = vault.store.add_share_set(
            name, identifier=public.identifier, group_threshold=1, groups=((2, 3),), iteration_exponent=0,
            passphrase=False, commitment_salt=public.commitment_salt, check_value=public.check_value,
        )  # fmt: skip
        return _with_holders(vault, record, public)

    return record_pending


def test_reshare_commits_the_new_set_and_rebacks_up_as_one_step(practice_vault, session, kit, tmp_path):
    from vault.operations import ActiveQuorum, reshare, verify_backup

    _activate_with_holders(practice_vault, kit.quorum.share_set, kit.public)
    generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    session.close()
    qs, public = _new_split()
    result = reshare(practice_vault, kit.quorum, qs, tmp_path / "new.bundle",
                     record_pending=_record_pending(practice_vault, public, "set-2"), ceremony_id=CEREMONY)  # fmt: skip
    assert result.share_set.status.value == "active" and result.retired.status.value == "retired"
    new_quorum = ActiveQuorum(qs, result.share_set)
    assert verify_backup(tmp_path / "new.bundle", new_quorum).labels == ("root",)
    event = last_event(practice_vault, "quorum.reshared").details
    assert event["backup_sha256"] == result.sha256 and event["token_pins_rekeyed"] is True
    with open_token_session(practice_vault, new_quorum) as session:  # the token takes the new PIN ...
        assert [k.label for k in session.list_keys()] == ["root"]
    with pytest.raises(PinIncorrect):  # ... and no longer the old one
        open_token_session(practice_vault, kit.quorum)


def test_a_failed_reshare_commits_nothing(practice_vault, session, kit, tmp_path):
    from vault.errors import OutputExists
    from vault.operations import reshare

    active = _activate_with_holders(practice_vault, kit.quorum.share_set, kit.public)
    generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    session.close()
    taken = tmp_path / "taken.bundle"
    taken.write_bytes(b"old")
    head = practice_vault.ledger.head()
    qs, public = _new_split()
    with pytest.raises(OutputExists):
        reshare(practice_vault, kit.quorum, qs, taken, record_pending=_record_pending(practice_vault, public, "set-2"))
    assert practice_vault.store.active_share_set() == active
    assert [s.name for s in practice_vault.store.list_share_sets()] == ["set-1"]
    assert practice_vault.ledger.head() == head and taken.read_bytes() == b"old"
