"""Restore drills into a scratch SoftHSM token, and when the next one is due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from vault.errors import DrillFailed, RecordNotFound
from vault.operations import generate_key, next_drill_due, run_drill, write_backup
from vault.store.records import DrillResult as DrillStatus
from vault.types import KeyAlgorithm

from .conftest import CEREMONY, last_event


@pytest.fixture
def backed_up(practice_vault, session, quorum, tmp_path):
    generate_key(practice_vault, session, "aes", KeyAlgorithm.AES_256)
    generate_key(practice_vault, session, "p256", KeyAlgorithm.EC_P256)
    path = tmp_path / "drill-me.bundle"
    write_backup(practice_vault, session, quorum, path)
    session.close()  # a drill wipes its scratch token, which re-initialises the library
    return path


def test_drill_restores_compares_and_wipes_the_scratch_token(practice_vault, quorum, backed_up):
    tokens_before = practice_vault.hsm().tokens()
    result = run_drill(practice_vault, quorum, ceremony_id=CEREMONY)
    assert result.ok and result.keys_compared == 2 and result.duration_seconds >= 0
    assert practice_vault.hsm().tokens() == tokens_before  # the scratch token is gone
    (drill,) = practice_vault.store.list_drills()
    assert drill.result is DrillStatus.OK and drill.backup_id == result.backup.id
    details = last_event(practice_vault, "drill.passed").details
    assert details["keys_compared"] == 2
    # where it ran: a practice home drills in a scratch token of its own SoftHSM (since wiped)
    assert details["where"]["place"] == "practice-scratch-token"
    assert details["where"]["token_label"].startswith("drill-")
    assert details["where"]["token_serial"] not in {t.serial for t in tokens_before}


def test_a_damaged_bundle_fails_the_drill_and_is_recorded(practice_vault, quorum, backed_up):
    data = bytearray(backed_up.read_bytes())
    data[len(data) // 2] ^= 0x04
    backed_up.write_bytes(bytes(data))
    tokens_before = practice_vault.hsm().tokens()
    with pytest.raises(DrillFailed, match="BUNDLE_CORRUPT"):
        run_drill(practice_vault, quorum, backed_up, ceremony_id=CEREMONY)
    (drill,) = practice_vault.store.list_drills()
    assert drill.result is DrillStatus.FAILED and "BUNDLE_CORRUPT" in drill.detail
    assert last_event(practice_vault, "drill.failed").details["error_code"] == "BUNDLE_CORRUPT"
    assert practice_vault.hsm().tokens() == tokens_before


def test_nothing_to_drill_without_a_backup(practice_vault, quorum):
    with pytest.raises(RecordNotFound):
        run_drill(practice_vault, quorum, ceremony_id=CEREMONY)
    assert practice_vault.store.list_drills() == []


def test_next_drill_is_due_one_interval_after_the_last_passed_drill(practice_vault, quorum, backed_up):
    practice_vault.store.add_policy(1, ((2, 3),), passphrase=False, iteration_exponent=0, drill_interval_days=90)
    assert next_drill_due(practice_vault).overdue  # backed up, never drilled: due now
    drill = run_drill(practice_vault, quorum, ceremony_id=CEREMONY).drill
    schedule = next_drill_due(practice_vault)
    ended = datetime.fromisoformat(drill.ended_at)
    assert schedule.due_at and datetime.fromisoformat(schedule.due_at) == ended + timedelta(days=90)
    assert not schedule.overdue
    assert next_drill_due(practice_vault, now=datetime.now(timezone.utc) + timedelta(days=91)).overdue


def test_a_stale_bundle_says_which_current_keys_it_lacks_and_does_not_count(practice_vault, session, quorum,
                                                                             tmp_path):
    """Issue 11: a drill of a bundle holding 1 of 2 keys passed without a word, and the next drill
    was then 'due in 89 days'."""
    from vault.operations.quorum import open_token_session

    practice_vault.store.add_policy(1, ((2, 3),), passphrase=False, iteration_exponent=0, drill_interval_days=90)
    generate_key(practice_vault, session, "aes", KeyAlgorithm.AES_256)
    old = tmp_path / "old.bundle"
    write_backup(practice_vault, session, quorum, old)
    generate_key(practice_vault, session, "p256", KeyAlgorithm.EC_P256)  # after the backup
    session.close()

    result = run_drill(practice_vault, quorum, old, ceremony_id=CEREMONY)
    assert result.ok and result.keys_compared == 1
    assert result.coverage.missing == ("p256",) and not result.coverage.complete
    assert "holds 1 of 2 current keys; not: p256" in result.detail
    event = last_event(practice_vault, "drill.passed").details
    assert event["covers_current_keys"] is False and event["current_keys_missing"] == ["p256"]
    schedule = next_drill_due(practice_vault)
    assert schedule.overdue and schedule.last_ok_at is None and schedule.missing == ("p256",)

    with open_token_session(practice_vault, quorum) as s:
        new = tmp_path / "new.bundle"
        write_backup(practice_vault, s, quorum, new)
    result = run_drill(practice_vault, quorum, new, ceremony_id=CEREMONY)
    assert result.coverage.complete and last_event(practice_vault, "drill.passed").details["covers_current_keys"]
    schedule = next_drill_due(practice_vault)
    assert not schedule.overdue and schedule.missing == ()
    assert datetime.fromisoformat(schedule.due_at) == datetime.fromisoformat(result.drill.ended_at) + timedelta(days=90)
