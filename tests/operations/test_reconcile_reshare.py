"""Reconciling the token with the database; re-backing up under a new quorum and retiring the old one."""

from __future__ import annotations

import pytest

from vault.errors import BundleForeign, ShareRetired, StoreError
from vault.operations import (
    activate,
    generate_key,
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
    result = rebackup_all(practice_vault, session, new.quorum, tmp_path / "new.bundle", ceremony_id=CEREMONY)
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
