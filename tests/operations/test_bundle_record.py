"""The whole-bundle check against the vault's record, at the operation level: restore, drill and
the pre-restore check each refuse a re-MACed forgery before the token is touched."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vault.backup.format import inspect_bundle, write_bundle
from vault.errors import BundleMismatch, DrillFailed
from vault.operations import generate_key, restore_backup, run_drill, write_backup
from vault.operations.bundle_record import check_against_record
from vault.operations.bundles import open_verified
from vault.operations.restore import preflight_restore
from vault.types import KeyAlgorithm

from .conftest import CEREMONY
from .test_backup_restore import fresh_token_session


@pytest.fixture
def bundle(practice_vault, session, quorum, tmp_path) -> Path:
    for label, alg in (("aes-1", KeyAlgorithm.AES_256), ("aes-2", KeyAlgorithm.AES_256), ("p256-1", KeyAlgorithm.EC_P256)):
        generate_key(practice_vault, session, label, alg)
    path = tmp_path / "backup.bundle"
    write_backup(practice_vault, session, quorum, path, ceremony_id=CEREMONY)
    session.close()
    return path


def forged(quorum, source: Path, target: Path, change, **header) -> Path:
    contents = inspect_bundle(source)
    entries = change(list(contents.entries))
    header = dataclasses.replace(contents.header, key_count=len(entries), **header)
    with quorum.mac_key() as mac_key:
        write_bundle(target, header, entries, mac_key)
    return target


def drop_aes_2(entries):
    return [e for e in entries if e.label != "aes-2"]


def test_the_recorded_bundle_is_its_backup_record(practice_vault, quorum, bundle):
    with quorum.mac_key() as mac_key:
        record = check_against_record(practice_vault, open_verified(bundle, quorum, mac_key), bundle)
    assert record == practice_vault.store.latest_backup()


def test_restore_itself_refuses_a_dropped_key_before_the_token(practice_vault, quorum, bundle, tmp_path):
    bad = forged(quorum, bundle, tmp_path / "dropped.bundle", drop_aes_2)
    with fresh_token_session(practice_vault, quorum) as target:
        head = practice_vault.ledger.head()
        with pytest.raises(BundleMismatch, match=r"key 'aes-2' \(kcv:[0-9a-f]{6}\) is missing from the bundle"):
            restore_backup(practice_vault, target, quorum, bad)
        assert target.list_keys() == [] and practice_vault.ledger.head() == head


def test_the_recorded_file_changed_at_its_path_is_refused(practice_vault, quorum, bundle, tmp_path):
    """The very file the vault recorded, rewritten in place (same keys, another time, re-MACed): its digest differs."""
    copy = forged(quorum, bundle, tmp_path / "rewritten.bundle", lambda es: es, created_at="2030-01-01T00:00:00Z")
    bundle.unlink()
    copy.rename(bundle)
    with pytest.raises(BundleMismatch, match="the file is not the one recorded at that path"):
        preflight_restore(practice_vault, quorum, bundle)


def test_a_bundle_changed_between_check_and_restore_is_refused(practice_vault, quorum, bundle):
    checked = preflight_restore(practice_vault, quorum, bundle)
    assert (checked.key_count, checked.to_restore, checked.keys_unwrapped) == (3, 3, 3)
    with fresh_token_session(practice_vault, quorum) as target:
        with pytest.raises(BundleMismatch, match="changed since it was checked"):
            restore_backup(practice_vault, target, quorum, bundle, expected_sha256="0" * 64)
        assert target.list_keys() == []


def test_the_drill_fails_on_a_dropped_key_and_names_it(practice_vault, quorum, bundle, tmp_path):
    """The recorded file replaced in place by a re-MACed copy without aes-2."""
    bad = forged(quorum, bundle, tmp_path / "dropped.bundle", drop_aes_2)
    bundle.unlink()
    bad.rename(bundle)
    with pytest.raises(DrillFailed, match=r"BUNDLE_MISMATCH.*recorded at that path.*key 'aes-2' .* is missing"):
        run_drill(practice_vault, quorum, bundle, ceremony_id=CEREMONY)
    assert practice_vault.store.last_drill().result.value == "failed"


def test_preflight_leaves_no_scratch_token(practice_vault, quorum, bundle, tmp_path):
    tokens = practice_vault.hsm().tokens()
    bad = forged(quorum, bundle, tmp_path / "reordered.bundle", lambda es: es[::-1])
    assert preflight_restore(practice_vault, quorum, bad).keys_unwrapped == 3
    assert practice_vault.hsm().tokens() == tokens


def test_a_header_naming_another_share_set_is_refused(practice_vault, quorum, bundle, tmp_path):
    bad = forged(quorum, bundle, tmp_path / "other-set.bundle", lambda es: es, share_set_id=99)
    with pytest.raises(BundleMismatch, match=f"the header's share set is 99, the vault recorded {quorum.share_set_id}"):
        preflight_restore(practice_vault, quorum, bad)


@pytest.mark.parametrize("field", ["cka_id", "fingerprint"])
def test_the_second_lock_refuses_an_entry_that_is_not_the_recorded_key(practice_vault, bundle, field):
    """Behind the whole-bundle check, the restore's own entry check (restore.plan_restore, also run
    as the keys are unwrapped) refuses an entry whose CKA_ID or fingerprint is not the database's:
    tested alone here, since the whole-bundle check above always catches such a bundle first."""
    from vault.errors import HsmCheckFailed
    from vault.operations.restore import plan_restore

    entries = list(inspect_bundle(bundle).entries)
    changed = {"cka_id": "00" * 16, "fingerprint": "kcv:000000"}[field]
    bad = [dataclasses.replace(e, **{field: changed}) if e.label == "aes-1" else e for e in entries]
    assert plan_restore(practice_vault, entries) == (3, [])
    with pytest.raises(HsmCheckFailed, match="The bundle's key 'aes-1' .* is not the key the vault recorded"):
        plan_restore(practice_vault, bad)


@pytest.mark.parametrize(("field", "name"), [("share_set_id", "share set"), ("kek_check_value", "KEK check value"),
                                             ("key_count", "key count"), ("format_version", "format version")])
def test_each_header_field_is_compared_with_the_record(practice_vault, quorum, bundle, field, name):
    """Each of the header's four recorded fields, compared alone: a record that differs in only
    that field is not this bundle. (A forged header cannot show all of them: the KEK check value
    must match the quorum's KEK and the format version must parse before this check runs.)"""
    from vault.operations.bundle_record import differences

    record = practice_vault.store.latest_backup()
    with quorum.mac_key() as mac_key:
        verified = open_verified(bundle, quorum, mac_key)
        assert differences(practice_vault, verified, record) == []
        other = {"share_set_id": 99, "kek_check_value": "0" * len(record.kek_check_value), "key_count": 7,
                 "format_version": 99}[field]
        problems = differences(practice_vault, verified, dataclasses.replace(record, **{field: other}))
    assert problems and problems[0] == (f"the header's {name} is {getattr(verified.header, field)}, "
                                        f"the vault recorded {other}")
