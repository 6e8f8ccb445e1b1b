"""Generate, rotate, change state, compromise and destroy master keys on a real token."""

from __future__ import annotations

import pytest

from vault.errors import (
    KeyNotWrappable,
    LabelExists,
    LabelInvalid,
    MechanismUnsupported,
    NoBackupReasonMissing,
    TransitionRefused,
)
from vault.operations import (
    change_key_state,
    compromise_key,
    destroy_key,
    generate_key,
    preflight_generate,
    rotate_key,
    write_backup,
)
from vault.store.records import BackupDecision
from vault.types import KeyAlgorithm, KeyState

from .conftest import CEREMONY, actions, last_event


def snapshot(vault, session):
    return (session.list_keys(), vault.store.list_keys(), vault.ledger.head())


def test_generate_aes_key_records_an_active_version_1(practice_vault, session):
    record = generate_key(practice_vault, session, "dek-2026", KeyAlgorithm.AES_256, ceremony_id=CEREMONY)
    (on_token,) = session.list_keys()
    assert (on_token.label, on_token.key_id, on_token.fingerprint) == (record.label, record.cka_id, record.fingerprint)
    assert on_token.extractable  # for wrapping only: backed up
    assert record.state is KeyState.ACTIVE and record.version == 1 and record.lineage == "dek-2026"
    assert record.token_serial == session.token.serial and record.ceremony_id == CEREMONY
    history = [(h.from_state, h.to_state) for h in practice_vault.store.key_history(record.id)]
    assert history == [(None, KeyState.PRE_ACTIVATION), (KeyState.PRE_ACTIVATION, KeyState.ACTIVE)]
    event = last_event(practice_vault, "key.generated")
    assert event.details["fingerprint"] == record.fingerprint and event.ceremony_id == CEREMONY


def test_an_existing_label_is_refused_in_the_db_and_on_the_token(practice_vault, session):
    generate_key(practice_vault, session, "root", KeyAlgorithm.EC_P256)
    session.generate("token-only", KeyAlgorithm.AES_256)  # an object the database does not know
    before = snapshot(practice_vault, session)
    with pytest.raises(LabelExists, match="vault already has"):
        generate_key(practice_vault, session, "root", KeyAlgorithm.AES_256)
    with pytest.raises(LabelExists, match="token"):
        generate_key(practice_vault, session, "token-only", KeyAlgorithm.AES_256)
    assert snapshot(practice_vault, session) == before


def test_bad_labels_and_unknown_algorithms_are_refused(practice_vault, session):
    before = snapshot(practice_vault, session)
    with pytest.raises(LabelInvalid):
        generate_key(practice_vault, session, "bad\nlabel", KeyAlgorithm.AES_256)
    with pytest.raises(MechanismUnsupported):
        generate_key(practice_vault, session, "dsa", "dsa-1024")
    assert snapshot(practice_vault, session) == before


def test_ed25519_with_backup_is_refused_and_accepted_with_a_recorded_reason(practice_vault, session):
    before = snapshot(practice_vault, session)
    with pytest.raises(KeyNotWrappable):
        generate_key(practice_vault, session, "ed", KeyAlgorithm.ED25519)
    with pytest.raises(NoBackupReasonMissing):
        generate_key(practice_vault, session, "ed", KeyAlgorithm.ED25519, backup=False)
    assert preflight_generate(practice_vault, session, "ed", KeyAlgorithm.ED25519, False) is None  # explicit decision
    assert snapshot(practice_vault, session) == before
    reason = "SoftHSM 2.6 cannot wrap Ed25519; the key is re-created if the token is lost"
    record = generate_key(practice_vault, session, "ed", KeyAlgorithm.ED25519, backup=False, no_backup_reason=reason)
    assert record.backup is BackupDecision.NO_BACKUP and record.no_backup_reason == reason
    assert not session.get_key("ed").extractable
    assert last_event(practice_vault, "key.no_backup_decision").details["reason"] == reason


def test_rotation_activates_the_next_version_and_keeps_the_previous(practice_vault, session):
    v1 = generate_key(practice_vault, session, "signer", KeyAlgorithm.EC_P256)
    old, new = rotate_key(practice_vault, session, "signer", ceremony_id=CEREMONY)
    assert old.state is KeyState.DEACTIVATED and old.id == v1.id
    assert (new.label, new.version, new.lineage, new.previous_key_id) == ("signer-v2", 2, "signer", v1.id)
    assert new.state is KeyState.ACTIVE
    assert {k.label for k in session.list_keys()} == {"signer", "signer-v2"}  # the old key is kept
    with pytest.raises(TransitionRefused):  # only the latest active version rotates
        rotate_key(practice_vault, session, "signer@1")  # "signer" is now v2
    assert last_event(practice_vault, "key.rotated").details["new"]["version"] == 2


def test_disallowed_transitions_are_refused(practice_vault, session):
    generate_key(practice_vault, session, "k", KeyAlgorithm.AES_256)
    change_key_state(practice_vault, "k", KeyState.DEACTIVATED, reason="end of cryptoperiod")
    before = snapshot(practice_vault, session)
    with pytest.raises(TransitionRefused, match="deactivated to active"):
        change_key_state(practice_vault, "k", KeyState.ACTIVE, reason="try to revive")
    with pytest.raises(TransitionRefused):
        change_key_state(practice_vault, "k", KeyState.DESTROYED, reason="not without the HSM")
    assert snapshot(practice_vault, session) == before


def test_an_active_key_cannot_be_destroyed(practice_vault, session):
    generate_key(practice_vault, session, "live", KeyAlgorithm.AES_256)
    before = snapshot(practice_vault, session)
    with pytest.raises(TransitionRefused, match="active to destroyed"):
        destroy_key(practice_vault, session, "live", reason="no longer needed")
    assert snapshot(practice_vault, session) == before


def test_destroy_confirms_gone_keeps_the_tombstone_and_lists_backups(practice_vault, session, quorum, tmp_path):
    record = generate_key(practice_vault, session, "old-kek", KeyAlgorithm.AES_256)
    generate_key(practice_vault, session, "other", KeyAlgorithm.AES_256)
    backup = write_backup(practice_vault, session, quorum, tmp_path / "b1.bundle").backup
    change_key_state(practice_vault, "old-kek", KeyState.DEACTIVATED, reason="superseded")
    result = destroy_key(practice_vault, session, "old-kek", reason="cryptoperiod over", ceremony_id=CEREMONY)
    assert [k.label for k in session.list_keys()] == ["other"]
    assert result.key.state is KeyState.DESTROYED and result.key.destroyed_at
    assert practice_vault.store.get_key(record.id).state is KeyState.DESTROYED  # the tombstone stays
    assert [b.id for b in result.backups_holding] == [backup.id]
    event = last_event(practice_vault, "key.destroyed")
    assert event.details["backups_holding"][0]["sha256"] == backup.sha256


def test_compromise_marks_both_halves_and_destroys_to_destroyed_compromised(practice_vault, session):
    generate_key(practice_vault, session, "leaked", KeyAlgorithm.EC_P256)
    record = compromise_key(practice_vault, "leaked", reason="card photographed", ceremony_id=CEREMONY)
    assert record.state is KeyState.COMPROMISED and record.compromised_at
    assert last_event(practice_vault, "key.compromised").details["reason"] == "card photographed"
    result = destroy_key(practice_vault, session, "leaked", reason="compromised")
    assert result.key.state is KeyState.DESTROYED_COMPROMISED
    assert session.list_keys() == []  # public and private halves gone
    assert "key.destroyed" in actions(practice_vault)
