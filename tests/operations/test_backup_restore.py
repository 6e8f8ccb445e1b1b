"""Backup to a bundle, restore onto a fresh token: happy paths and every refusal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault.backup.format import inspect_bundle, write_bundle
from vault.errors import BundleCorrupt, BundleForeign, OutputExists, TokenNotEmpty, WrappedKeyInvalid
from vault.operations import (
    change_key_state,
    generate_key,
    initialise_token,
    restore_backup,
    verify_backup,
    write_backup,
)
from vault.operations.backup import keys_to_back_up
from vault.types import KeyAlgorithm, KeyState

from .conftest import CEREMONY, actions, last_event, new_share_set


@pytest.fixture
def keys(practice_vault, session):
    """Three master keys in three states; a no-backup Ed25519 key the backup must leave out."""
    generate_key(practice_vault, session, "aes-1", KeyAlgorithm.AES_256)
    generate_key(practice_vault, session, "p256-1", KeyAlgorithm.EC_P256)
    generate_key(practice_vault, session, "p384-1", KeyAlgorithm.EC_P384)
    change_key_state(practice_vault, "p384-1", KeyState.SUSPENDED, reason="audit")
    generate_key(practice_vault, session, "ed-1", KeyAlgorithm.ED25519, backup=False, no_backup_reason="not wrappable")
    return {r.label: r for r in practice_vault.store.list_keys()}


@pytest.fixture
def bundle(practice_vault, session, quorum, keys, tmp_path) -> Path:
    path = tmp_path / "media" / "backup-1.bundle"
    path.parent.mkdir()
    write_backup(practice_vault, session, quorum, path, ceremony_id=CEREMONY)
    return path


def fresh_token_session(vault, quorum, label="replacement"):
    info = initialise_token(vault, quorum, label, replacement=True)
    with quorum.user_pin() as pin:
        return vault.hsm().open_session(info, pin)


def test_backup_writes_every_backed_up_key_once_and_records_it(practice_vault, session, quorum, keys, tmp_path):
    path = tmp_path / "backup.bundle"
    result = write_backup(practice_vault, session, quorum, path, ceremony_id=CEREMONY)
    contents = inspect_bundle(path)
    assert [e.label for e in contents.entries] == ["aes-1", "p256-1", "p384-1"]  # not the no-backup key
    assert [e.state for e in contents.entries][-1] is KeyState.SUSPENDED
    assert result.sha256 == contents.sha256 and result.keys_test_unwrapped == 3
    assert contents.header.kek_check_value == quorum.kek_check_value()
    rows = practice_vault.store.backup_keys(result.backup.id)
    assert {(r.label, r.fingerprint) for r in rows} == {(e.label, e.fingerprint) for e in contents.entries}
    assert last_event(practice_vault, "backup.written").details["sha256"] == result.sha256
    # Only the originals are on the token: the test-unwrap copies and the session KEK are gone.
    assert {k.label for k in session.list_keys()} == {"aes-1", "p256-1", "p384-1", "ed-1"}
    assert sorted(os.listdir(tmp_path)) == ["backup.bundle", "home"]  # no temp file left
    check = verify_backup(path, quorum)
    assert check.labels == ("aes-1", "p256-1", "p384-1") and check.sha256 == result.sha256


def test_backup_never_overwrites(practice_vault, session, quorum, keys, tmp_path):
    path = tmp_path / "taken.bundle"
    path.write_bytes(b"someone else's file")
    head = practice_vault.ledger.head()
    with pytest.raises(OutputExists):
        write_backup(practice_vault, session, quorum, path)
    assert path.read_bytes() == b"someone else's file"
    assert practice_vault.store.list_backups() == [] and practice_vault.ledger.head() == head


def test_restore_onto_a_fresh_token_brings_every_key_back(practice_vault, session, quorum, keys, bundle):
    session.close()
    with fresh_token_session(practice_vault, quorum) as target:
        result = restore_backup(practice_vault, target, quorum, bundle, ceremony_id=CEREMONY)
        restored = {k.label: k for k in target.list_keys()}
        assert set(result.restored) == set(restored) == {"aes-1", "p256-1", "p384-1"}
        for label, key in restored.items():
            assert key.fingerprint == keys[label].fingerprint and key.key_id == keys[label].cka_id
        signature = target.sign(restored["p256-1"], b"restored")  # a restored pair signs
        assert signature
    records = {r.label: r for r in practice_vault.store.list_keys()}
    assert records["aes-1"].token_serial == target.token.serial
    assert records["p384-1"].state is KeyState.SUSPENDED  # states are the vault's, unchanged
    assert practice_vault.store.get_setting("token.serial") == target.token.serial
    assert last_event(practice_vault, "backup.restored").details["keys_restored"] == 3


def _flip_bit(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flipped-bit", "truncated", "flipped-bit-in-blob"])
def test_a_damaged_bundle_is_refused_before_the_token_is_touched(practice_vault, session, quorum, bundle, damage):
    session.close()
    size = bundle.stat().st_size
    if damage == "flipped-bit":
        _flip_bit(bundle, size // 2)
    elif damage == "truncated":
        os.truncate(bundle, size - 40)
    else:  # inside a base64 blob, with the line's check recomputed: only the MAC can tell
        contents = inspect_bundle(bundle)
        entries = list(contents.entries)
        blob = bytearray(entries[0].wrapped)
        blob[3] ^= 0x01
        import dataclasses

        entries[0] = dataclasses.replace(entries[0], wrapped=bytes(blob))
        bundle.unlink()
        bogus_mac = os.urandom(32)
        from vault.secret import Secret

        write_bundle(bundle, contents.header, entries, Secret(bogus_mac))
    with fresh_token_session(practice_vault, quorum) as target:
        head = practice_vault.ledger.head()
        with pytest.raises(BundleCorrupt):
            restore_backup(practice_vault, target, quorum, bundle)
        assert target.list_keys() == []
        assert practice_vault.ledger.head() == head


def test_a_bundle_of_another_quorum_is_refused(practice_vault, session, quorum, bundle):
    session.close()
    other = new_share_set(practice_vault, "set-2").quorum
    with fresh_token_session(practice_vault, quorum) as target:
        with pytest.raises(BundleForeign, match="share set"):
            restore_backup(practice_vault, target, other, bundle)
        assert target.list_keys() == []
    with pytest.raises(BundleForeign):
        verify_backup(bundle, other)


def test_a_restore_that_fails_midway_leaves_no_imported_object(practice_vault, session, quorum, bundle, tmp_path):
    """A correctly MAC'd bundle whose last blob does not unwrap: the first keys must not stay."""
    session.close()
    contents = inspect_bundle(bundle)
    import dataclasses

    entries = list(contents.entries)
    entries[-1] = dataclasses.replace(entries[-1], wrapped=os.urandom(len(entries[-1].wrapped)))
    bad = tmp_path / "bad.bundle"
    with quorum.mac_key() as mac_key:
        write_bundle(bad, contents.header, entries, mac_key)
    with fresh_token_session(practice_vault, quorum) as target:
        head = practice_vault.ledger.head()
        with pytest.raises(WrappedKeyInvalid):
            restore_backup(practice_vault, target, quorum, bad)
        assert target.list_keys() == []
        assert practice_vault.ledger.head() == head
    assert {r.token_serial for r in practice_vault.store.list_keys()} == {session.token.serial}


def test_restore_refuses_a_token_that_holds_keys(practice_vault, session, quorum, bundle):
    head = practice_vault.ledger.head()
    with pytest.raises(TokenNotEmpty):
        restore_backup(practice_vault, session, quorum, bundle)
    assert practice_vault.ledger.head() == head
    assert "backup.restored" not in actions(practice_vault)


def test_destroyed_keys_are_never_restored(practice_vault, session, quorum, bundle):
    from vault.operations import destroy_key

    change_key_state(practice_vault, "aes-1", KeyState.DEACTIVATED, reason="superseded")
    destroy_key(practice_vault, session, "aes-1", reason="done")
    session.close()
    with fresh_token_session(practice_vault, quorum) as target:
        result = restore_backup(practice_vault, target, quorum, bundle)
        assert [k.label for k in target.list_keys()] == ["p256-1", "p384-1"]
    assert result.skipped == (("aes-1", "destroyed in this vault; never restored"),)
    assert [r.label for r in keys_to_back_up(practice_vault)] == ["p256-1", "p384-1"]


def test_a_format_1_bundle_written_before_the_metadata_still_restores(practice_vault, session, quorum, keys,
                                                                       tmp_path, monkeypatch):
    """What the console wrote before format 2 (no ledger head, no metadata lines), recorded as
    format 1, restores as before: old bundles stay readable."""
    from vault.backup import format as bundle_format
    from vault.operations import backup as backup_module

    def create_v1(*, ledger_seq, ledger_head, now=None, **fields):
        return bundle_format.BundleHeader(created_at=bundle_format.utc_timestamp(now), **fields)

    monkeypatch.setattr(backup_module.BundleHeader, "create", staticmethod(create_v1))
    monkeypatch.setattr(backup_module, "_write_metadata", lambda *args: None)
    monkeypatch.setattr(backup_module, "FORMAT_VERSION", 1)
    path = tmp_path / "old.bundle"
    write_backup(practice_vault, session, quorum, path, ceremony_id=CEREMONY)
    monkeypatch.undo()
    assert inspect_bundle(path).header.format_version == 1 and b'"type":"metadata"' not in path.read_bytes()
    session.close()
    with fresh_token_session(practice_vault, quorum) as target:
        result = restore_backup(practice_vault, target, quorum, path, ceremony_id=CEREMONY)
        assert set(result.restored) == {"aes-1", "p256-1", "p384-1"}


def test_a_bundle_carries_the_vault_metadata(practice_vault, session, quorum, keys, bundle):
    from vault.backup.format import iter_verified_entries
    from vault.backup.metadata import open_records

    with quorum.mac_key() as mac_key, quorum.metadata_key() as metadata_key:
        verified = iter_verified_entries(bundle, mac_key)
        records = list(open_records(metadata_key, verified.metadata_chunks(), layout=verified.header.format_version))
    header = verified.header
    assert header.format_version == 3 and records[0]["ledger_seq"] == header.ledger_seq
    tables = {r["table"]: i for i, r in enumerate(records) if isinstance(r, dict) and "table" in r}
    key_rows = [r for r in records[tables["keys"] + 1:] if isinstance(r, list)][:4]
    assert {r[1] for r in key_rows} == {"aes-1", "p256-1", "p384-1", "ed-1"}  # every key record, no-backup ones too
    assert {"custodians", "share_sets", "share_holders", "key_names", "ledger", "backups"} <= set(tables)
