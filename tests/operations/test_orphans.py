"""Orphan resolutions and the half-filled replacement token, on a real token: only the key a
crashed step's intent names is adopted; a token holding anything but this bundle's unrecorded
copies is never cleared by a restore."""

from __future__ import annotations

import pytest

from vault.errors import HsmCheckFailed, TokenNotEmpty
from vault.operations import generate_key, restore_backup, write_backup
from vault.operations.orphans import adopt_generated, destroy_orphan, orphan_labelled
from vault.types import KeyAlgorithm

from .conftest import CEREMONY
from .test_backup_restore import fresh_token_session


def _intent(label, algorithm, backup=True):
    return {"ceremony_id": CEREMONY, "step": "generate", "kind": "generate-key", "label": label,
            "algorithm": algorithm, "backup": backup}


def test_the_orphan_an_intent_names_is_adopted(practice_vault, session):
    made = session.generate("crashed-1", KeyAlgorithm.AES_256, backup=True)  # the HSM made it; no row
    orphan = orphan_labelled(practice_vault, session, "crashed-1")
    assert orphan is not None and orphan.key_id == made.key_id
    record = adopt_generated(practice_vault, session, orphan, _intent("crashed-1", "aes-256"), ceremony_id=CEREMONY)
    assert (record.label, record.fingerprint, record.state.value) == ("crashed-1", made.fingerprint, "active")
    assert orphan_labelled(practice_vault, session, "crashed-1") is None


@pytest.mark.parametrize("intent", [_intent("crashed-1", "ec-p256"), _intent("crashed-1", "aes-256", backup=False),
                                    _intent("other-label", "aes-256")])
def test_an_orphan_that_is_not_what_the_step_was_making_is_never_adopted(practice_vault, session, intent):
    session.generate("crashed-1", KeyAlgorithm.AES_256, backup=True)
    orphan = orphan_labelled(practice_vault, session, "crashed-1")
    with pytest.raises(HsmCheckFailed, match="is not the key the crashed step was making"):
        adopt_generated(practice_vault, session, orphan, intent, ceremony_id=CEREMONY)
    assert practice_vault.store.keys_by_labels(["crashed-1"]) == {}


def test_a_recorded_key_is_never_destroyed_as_an_orphan(practice_vault, session):
    generate_key(practice_vault, session, "kept", KeyAlgorithm.AES_256)
    key = session.get_key("kept")
    with pytest.raises(HsmCheckFailed, match="is a recorded key, not an orphan"):
        destroy_orphan(practice_vault, session, key, reason="test", ceremony_id=CEREMONY)
    assert session.get_key("kept") == key


def test_a_half_filled_replacement_token_is_cleared_only_of_this_bundles_copies(practice_vault, session, quorum,
                                                                              tmp_path):
    for label in ("aes-1", "aes-2"):
        generate_key(practice_vault, session, label, KeyAlgorithm.AES_256)
    bundle = tmp_path / "b.bundle"
    write_backup(practice_vault, session, quorum, bundle, ceremony_id=CEREMONY)
    session.close()
    with fresh_token_session(practice_vault, quorum) as target:
        target.generate("foreign", KeyAlgorithm.AES_256, backup=True)  # not a copy of the bundle's keys
        with pytest.raises(TokenNotEmpty):
            restore_backup(practice_vault, target, quorum, bundle)
        assert [k.label for k in target.list_keys()] == ["foreign"]
        target.destroy(target.get_key("foreign"))
        # a copy of one bundle key (as a killed restore leaves it) is cleared and the restore completes
        from vault.operations.bundles import entry_item, open_verified

        with quorum.mac_key() as mac, quorum.kek() as kek:
            first = next(iter(open_verified(bundle, quorum, mac)))
            wkey = target.import_wrapping_key(kek)
            target.unwrap_all(wkey, [entry_item(first)], store=True)
            target.destroy_wrapping_key(wkey)
        result = restore_backup(practice_vault, target, quorum, bundle)
        assert sorted(result.restored) == ["aes-1", "aes-2"]
        assert sorted(k.label for k in target.list_keys()) == ["aes-1", "aes-2"]
    assert any(e.action == "restore.partial_cleared" for e in practice_vault.ledger.events())
