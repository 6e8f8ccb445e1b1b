"""The named operations of each repository: records back, errors that name the problem."""

from __future__ import annotations

import pytest

from vault.errors import RecordExists, RecordNotFound, StoreError, TransitionRefused
from vault.secret import Secret
from vault.store import (
    BackupDecision,
    CeremonyStatus,
    CustodianStatus,
    DrillResult,
    LedgerHead,
    NewBackup,
    ShareSetStatus,
    StepStatus,
)
from vault.types import KeyAlgorithm, KeyState, Mode, Role


# --- custodians ------------------------------------------------------------------------------------
def test_custodian_round_trip_and_case_insensitive_lookup(store, make_custodian):
    alice = make_custodian("Alice")
    assert store.get_custodian("alice") == alice == store.get_custodian_by_id(alice.id)
    assert alice.role is Role.CUSTODIAN and alice.status is CustodianStatus.ACTIVE
    assert alice.kdf_params == {"algorithm": "argon2id", "memory_cost": 65536}
    assert alice.enrolled_at.endswith("Z")


def test_duplicate_custodian_name_is_refused_by_name(store, make_custodian):
    make_custodian("Alice")
    with pytest.raises(RecordExists) as info:
        make_custodian("ALICE")
    assert "'ALICE'" in str(info.value)
    assert len(store.list_custodians(status=None)) == 1


def test_missing_custodian(store):
    with pytest.raises(RecordNotFound, match="'Zed'"):
        store.get_custodian("Zed")


def test_list_and_retire_custodians(store, make_custodian, make_ceremony):
    make_custodian("Alice")
    make_custodian("Walt", Role.WITNESS)
    ceremony = make_ceremony("reshare")
    retired = store.retire_custodian("alice", ceremony_id=ceremony.id)
    assert retired.status is CustodianStatus.RETIRED and retired.retired_ceremony_id == ceremony.id
    assert [c.name for c in store.list_custodians()] == ["Walt"]
    assert [c.name for c in store.list_custodians(status=None)] == ["Alice", "Walt"]
    assert [c.name for c in store.list_custodians(status=None, role=Role.WITNESS)] == ["Walt"]
    with pytest.raises(StoreError, match="already retired"):
        store.retire_custodian("Alice")


# --- policy and share sets -------------------------------------------------------------------------
def test_policy_latest_is_current(store):
    assert store.current_policy() is None
    store.add_policy(1, [(2, 3)], passphrase=False, iteration_exponent=1, drill_interval_days=90)
    second = store.add_policy(2, [(2, 3), (1, 1)], passphrase=True, iteration_exponent=2, drill_interval_days=30)
    assert store.current_policy() == second
    assert second.groups == ((2, 3), (1, 1)) and second.passphrase is True
    assert second.describe() == "2 of 2 groups (2-of-3, 1-of-1)"
    assert len(store.list_policies()) == 2
    with pytest.raises(ValueError):
        store.add_policy(1, [(4, 3)], passphrase=False, iteration_exponent=1, drill_interval_days=90)


def _share_set(store, name="set-1", **kw):
    kw.setdefault("identifier", 1234)
    return store.add_share_set(
        name, group_threshold=1, groups=[(2, 3)], iteration_exponent=1, passphrase=False,
        commitment_salt="salt", check_value="cv", **kw,
    )


def _holders(store, share_set, custodians, *, verify=True):
    holders = []
    for i, custodian in enumerate(custodians):
        h = store.add_share_holder(share_set.id, custodian.id, group_index=0, member_index=i, commitment=f"c{i}")
        store.mark_share_distributed(h.id)
        if verify:
            h = store.mark_share_verified(h.id)
        holders.append(h)
    return holders


def test_share_set_lifecycle_pending_active_retired(store, make_custodian):
    people = [make_custodian(n) for n in ("Alice", "Bob", "Carol")]
    first = _share_set(store)
    assert first.status is ShareSetStatus.PENDING and first.describe() == "2-of-3"
    assert store.active_share_set() is None
    _holders(store, first, people)
    first = store.activate_share_set(first.id)
    assert first.status is ShareSetStatus.ACTIVE and first.activated_at
    assert store.active_share_set() == first

    second = _share_set(store, "set-2", identifier=999)
    _holders(store, second, people)
    second = store.activate_share_set(second.id)
    assert store.active_share_set() == second
    assert store.get_share_set(first.id).status is ShareSetStatus.RETIRED
    assert [s.name for s in store.list_share_sets(status=ShareSetStatus.RETIRED)] == ["set-1"]
    with pytest.raises(StoreError, match="only a pending set"):
        store.activate_share_set(first.id)


def test_share_set_is_not_activated_before_every_share_is_verified_back(store, make_custodian):
    people = [make_custodian(n) for n in ("Alice", "Bob")]
    share_set = _share_set(store)
    with pytest.raises(StoreError, match="no share holders"):
        store.activate_share_set(share_set.id)
    holders = _holders(store, share_set, people, verify=False)
    store.mark_share_verified(holders[0].id)
    with pytest.raises(StoreError, match=r"Bob \(group 1, member 2\)"):
        store.activate_share_set(share_set.id)
    assert store.get_share_set(share_set.id).status is ShareSetStatus.PENDING


def test_share_holders_record_commitments_and_verification_times(store, make_custodian):
    alice = make_custodian("Alice")
    share_set = _share_set(store)
    holder = store.add_share_holder(share_set.id, alice.id, group_index=0, member_index=0, commitment="abc")
    assert (holder.custodian_name, holder.verified_at, holder.last_verified_at) == ("Alice", None, None)
    first = store.mark_share_verified(holder.id)
    again = store.mark_share_verified(holder.id)
    assert again.verified_at == first.verified_at and again.last_verified_at > first.last_verified_at
    assert store.share_holders(share_set.id) == [again] == store.holdings_of(alice.id)
    with pytest.raises(RecordExists, match="group 1, member 1"):
        store.add_share_holder(share_set.id, alice.id, group_index=0, member_index=0, commitment="x")
    with pytest.raises(RecordNotFound):
        store.mark_share_verified(12345)


def test_duplicate_share_set_name_and_retire(store):
    share_set = _share_set(store)
    with pytest.raises(RecordExists, match="'set-1'"):
        _share_set(store)
    assert store.retire_share_set(share_set.id).status is ShareSetStatus.RETIRED
    with pytest.raises(StoreError, match="already retired"):
        store.retire_share_set(share_set.id)
    assert store.get_share_set_by_name("SET-1").id == share_set.id


# --- keys and backups ------------------------------------------------------------------------------
def test_key_round_trip(store, make_key, make_ceremony):
    ceremony = make_ceremony("generate-key")
    key = make_key("root-2026", algorithm=KeyAlgorithm.EC_P256, fingerprint="sha256:ab", ceremony_id=ceremony.id)
    assert store.get_key_by_label("root-2026") == key == store.get_key(key.id)
    assert (key.state, key.version, key.lineage, key.backup) == (
        KeyState.PRE_ACTIVATION, 1, "root-2026", BackupDecision.BACKED_UP)
    assert key.pre_activation_at == key.created_at
    [created] = store.key_history(key.id)
    assert (created.from_state, created.to_state, created.ceremony_id) == (None, KeyState.PRE_ACTIVATION, ceremony.id)


def test_duplicate_label_is_refused_by_name(store, make_key):
    make_key("kek")
    with pytest.raises(RecordExists, match="'kek'"):
        make_key("kek")
    assert len(store.list_keys()) == 1


def test_no_backup_needs_a_reason(store, make_key):
    key = make_key("ed", algorithm=KeyAlgorithm.ED25519, backup=BackupDecision.NO_BACKUP,
                   no_backup_reason="SoftHSM cannot wrap Ed25519")
    assert key.backup is BackupDecision.NO_BACKUP and key.no_backup_reason.startswith("SoftHSM")
    with pytest.raises(ValueError):
        make_key("ed2", backup=BackupDecision.NO_BACKUP)
    with pytest.raises(ValueError):
        make_key("k3", no_backup_reason="why")
    with pytest.raises(ValueError):
        make_key("k4", state=KeyState.DESTROYED)


def test_list_keys_by_state_and_missing_key(store, make_key):
    a, b = make_key("a"), make_key("b")
    store.transition_key(b.id, KeyState.ACTIVE, actor="x", ceremony_id=None, reason="r")
    assert [k.label for k in store.list_keys()] == ["a", "b"]
    assert [k.label for k in store.list_keys(KeyState.ACTIVE)] == ["b"]
    assert [k.label for k in store.list_keys(state=KeyState.PRE_ACTIVATION)] == ["a"]
    with pytest.raises(RecordNotFound, match="'nope'"):
        store.get_key_by_label("nope")
    with pytest.raises(RecordNotFound):
        store.transition_key(999, KeyState.ACTIVE, actor="x", ceremony_id=None, reason="r")


def test_rotation_activates_the_next_version_and_deactivates_the_previous(store, make_key, make_ceremony):
    ceremony = make_ceremony("rotate")
    old = make_key("kek-v1", lineage="kek")
    old = store.transition_key(old.id, KeyState.ACTIVE, actor="a", ceremony_id=None, reason="r")
    new = store.rotate_key(old.id, "kek-v2", cka_id="ff", fingerprint="kcv:123456", token_serial="t",
                           actor="a", ceremony_id=ceremony.id)
    assert (new.state, new.version, new.lineage, new.previous_key_id) == (KeyState.ACTIVE, 2, "kek", old.id)
    assert store.get_key(old.id).state is KeyState.DEACTIVATED
    assert store.latest_version("kek") == new
    assert [k.version for k in store.list_keys(lineage="kek")] == [1, 2]
    with pytest.raises(TransitionRefused):
        store.rotate_key(old.id, "kek-v3", cka_id="ee", fingerprint="f", token_serial="t", actor="a",
                         ceremony_id=None)
    assert store.list_keys(lineage="kek")[-1].version == 2


def test_set_key_token_after_restore(store, make_key):
    key = make_key()
    assert store.set_key_token(key.id, "new-serial").token_serial == "new-serial"
    with pytest.raises(RecordNotFound):
        store.set_key_token(999, "x")


def test_backups_record_their_keys(store, make_key, make_ceremony):
    share_set = _share_set(store)
    k1, k2, k3 = make_key("a"), make_key("b"), make_key("c")
    ceremony = make_ceremony("backup")
    assert store.latest_backup() is None
    b1 = store.record_backup(NewBackup("/media/usb/a.ccb", "aa" * 32, 1, share_set.id, "kcv1", ceremony.id),
                             [(k1.id, "kcv:1"), (k2.id, "kcv:2")])
    b2 = store.record_backup(NewBackup("/media/usb/b.ccb", "bb" * 32, 1, share_set.id, "kcv1"), [(k2.id, "kcv:2")])
    assert b1.key_count == 2 and b1.ceremony_id == ceremony.id
    assert store.latest_backup() == b2
    assert store.backups_holding(k2.id) == [b1, b2]
    assert store.backups_holding(k1.id) == [b1]
    assert store.backups_holding(k3.id) == []
    assert [(e.label, e.fingerprint) for e in store.backup_keys(b1.id)] == [("a", "kcv:1"), ("b", "kcv:2")]
    assert store.get_backup_by_sha256("AA" * 32) == b1
    assert store.list_backups() == [b1, b2]
    with pytest.raises(ValueError):
        store.record_backup(NewBackup("/x", "cc" * 32, 1, share_set.id, "kcv"), [(k1.id, "f"), (k1.id, "f")])


# --- ceremonies and the journal --------------------------------------------------------------------
def test_ceremony_start_and_end(store):
    head = LedgerHead(3, "ab" * 32)
    c = store.start_ceremony("c-1", definition_name="init", definition_sha256="d" * 64, mode=Mode.PRODUCTION,
                             script_driven=True, ledger_head=head, params={"token": "prod-1", "m": 2})
    assert (c.status, c.mode, c.script_driven, c.ledger_start, c.params) == (
        CeremonyStatus.RUNNING, Mode.PRODUCTION, True, head, {"m": 2, "token": "prod-1"})
    assert store.unfinished_ceremonies() == [c]
    with pytest.raises(RecordExists, match="'c-1'"):
        store.start_ceremony("c-1", definition_name="init", definition_sha256="d", mode=Mode.PRACTICE)
    done = store.end_ceremony("c-1", CeremonyStatus.COMPLETED, ledger_head=LedgerHead(9, "cd" * 32))
    assert done.status is CeremonyStatus.COMPLETED and done.ledger_end == LedgerHead(9, "cd" * 32) and done.ended_at
    assert store.unfinished_ceremonies() == []
    with pytest.raises(StoreError, match="already ended"):
        store.end_ceremony("c-1", CeremonyStatus.ABORTED, abort_reason="late")


def test_abort_needs_a_reason(store, make_ceremony):
    c = make_ceremony()
    with pytest.raises(ValueError):
        store.end_ceremony(c.id, CeremonyStatus.ABORTED)
    aborted = store.end_ceremony(c.id, CeremonyStatus.ABORTED, abort_reason="custodian absent")
    assert aborted.abort_reason == "custodian absent" and aborted.ledger_end is None
    assert store.list_ceremonies() == [aborted]
    with pytest.raises(RecordNotFound):
        store.get_ceremony("nope")


def test_step_journal_started_completed_failed_retried(store, make_ceremony):
    c = make_ceremony()
    s0 = store.journal_step_started(c.id, 0, "checklist", "confirm")
    assert (s0.status, s0.attempt, s0.ended_at) == (StepStatus.STARTED, 1, None)
    done = store.journal_step_completed(c.id, 0, {"confirmed": True})
    assert done.status is StepStatus.COMPLETED and done.result == {"confirmed": True}
    with pytest.raises(StoreError, match="already completed"):
        store.journal_step_started(c.id, 0, "checklist", "confirm")

    store.journal_step_started(c.id, 1, "keygen", "hsm")
    failed = store.journal_step_failed(c.id, 1, "HSM_PIN", {"attempts": 1})
    assert (failed.status, failed.error_code) == (StepStatus.FAILED, "HSM_PIN")
    retry = store.journal_step_started(c.id, 1, "keygen", "hsm")
    assert retry.attempt == 2
    store.journal_step_completed(c.id, 1)
    assert [(s.step_index, s.attempt, s.status) for s in store.steps_of(c.id)] == [
        (0, 1, StepStatus.COMPLETED), (1, 1, StepStatus.FAILED), (1, 2, StepStatus.COMPLETED)]


def test_a_step_left_started_by_a_crash_is_closed_as_interrupted(store, make_ceremony):
    c = make_ceremony()
    store.journal_step_started(c.id, 0, "share-reveal", "reveal")
    again = store.journal_step_started(c.id, 0, "share-reveal", "reveal")
    first, second = store.steps_of(c.id)
    assert (first.status, first.error_code, first.ended_at is not None) == (StepStatus.FAILED, "INTERRUPTED", True)
    assert second == again and again.attempt == 2


def test_finishing_a_step_that_never_started_is_refused(store, make_ceremony):
    c = make_ceremony()
    with pytest.raises(RecordNotFound, match="no started attempt"):
        store.journal_step_completed(c.id, 5)
    with pytest.raises(RecordNotFound):
        store.journal_step_started("no-such-ceremony", 0, "x", "y")


def test_a_secret_in_a_step_result_is_refused_and_the_step_stays_open(store, make_ceremony):
    c = make_ceremony()
    store.journal_step_started(c.id, 0, "pin", "pin")
    with pytest.raises(TypeError, match="Secret"):
        store.journal_step_completed(c.id, 0, {"entered": [Secret("1234", "pin")]})
    assert store.steps_of(c.id)[0].status is StepStatus.STARTED
    with pytest.raises(TypeError):
        store.start_ceremony("c-x", definition_name="d", definition_sha256="s", mode=Mode.PRACTICE,
                             params={"pin": Secret("1")})


# --- attestations, deviations, drills, settings ----------------------------------------------------
def test_attestations_and_deviations(store, make_ceremony, make_custodian):
    c = make_ceremony()
    walt = make_custodian("Walt", Role.WITNESS)
    a = store.add_attestation(c.id, walt.id, statement="I saw it", signature_hex="ab" * 32, agree=True,
                              step_id="witness")
    assert (a.custodian_name, a.agree, a.step_id) == ("Walt", True, "witness")
    assert store.attestations_of(c.id) == [a]
    d = store.add_deviation(c.id, step_id="keygen", expected="P-256", happened="P-384 generated",
                            action="destroyed and regenerated", decided_by="Walt")
    assert store.deviations_of(c.id) == [d] and d.at
    with pytest.raises(RecordNotFound):
        store.add_attestation("nope", walt.id, statement="s", signature_hex="00", agree=False)


def test_drills_last_and_last_ok(store, make_ceremony, make_key):
    share_set = _share_set(store)
    backup = store.record_backup(NewBackup("/b", "ee" * 32, 1, share_set.id, "kcv"), [(make_key().id, "f")])
    c1, c2 = make_ceremony("drill"), make_ceremony("drill")
    assert store.last_drill() is None
    ok = store.record_drill(c1.id, backup.id, started_at="2026-05-01T10:00:00.000000Z",
                            ended_at="2026-05-01T10:05:00.000000Z", duration_seconds=300.0, result=DrillResult.OK,
                            keys_compared=1)
    bad = store.record_drill(c2.id, backup.id, started_at="2026-06-01T10:00:00.000000Z",
                             ended_at="2026-06-01T10:01:00.000000Z", duration_seconds=60, result=DrillResult.FAILED,
                             keys_compared=0, detail="KCV mismatch on key-1")
    assert store.last_drill() == bad and store.last_drill(ok_only=True) == ok
    assert store.list_drills() == [ok, bad]


def test_settings(store):
    assert store.get_setting("wrap_mechanism") is None
    assert store.get_setting("wrap_mechanism", "pad") == "pad"
    store.set_setting("wrap_mechanism", "AES_KEY_WRAP_PAD")
    store.set_setting("wrap_mechanism", "AES_KEY_WRAP_KWP")
    assert store.settings() == {"wrap_mechanism": "AES_KEY_WRAP_KWP"}
    with pytest.raises(TypeError):
        store.set_setting("pin", Secret("1234"))
