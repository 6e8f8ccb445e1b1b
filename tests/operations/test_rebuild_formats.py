"""A lost vault rebuilds from a bundle of format 3 (the compact metadata layout) and from one
of format 2 (the row layout, written before it): old bundles stay good for the lost machine.

The rebuilt database holds, table for table, the rows the lost one held when the bundle was
written (with the rebuild's own rows added: its backup record, the ceremony it ended, its event).
"""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from vault.backup.format import inspect_bundle
from vault.operations import backup as backup_module
from vault.operations import write_backup
from vault.operations.keys import generate_key
from vault.operations.rebuild import rebuild_from_bundle
from vault.types import KeyAlgorithm
from vault.vault import Vault

from .conftest import CEREMONY


def _rows(path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%'")]
        return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        conn.close()


@pytest.mark.parametrize("version", [2, 3])
def test_a_bundle_of_either_metadata_layout_rebuilds_the_vault(practice_vault, session, kit, tmp_path, monkeypatch,
                                                               version):
    vault, quorum = practice_vault, kit.quorum
    with vault.store.atomic():  # the set as an init leaves it (its holders' enrolment is not the point here)
        vault.store.conn.execute("UPDATE share_sets SET status = 'active' WHERE id = ?", (quorum.share_set_id,))
    for n, algorithm in enumerate((KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256)):
        generate_key(vault, session, f"key-{n}", algorithm, ceremony_id=CEREMONY)
    create = backup_module.BundleHeader.create
    monkeypatch.setattr(backup_module.BundleHeader, "create",
                        staticmethod(lambda **f: dataclasses.replace(create(**f), format_version=version)))
    bundle = tmp_path / "backup.ccb"
    write_backup(vault, session, quorum, bundle, ceremony_id=CEREMONY)
    monkeypatch.undo()
    assert inspect_bundle(bundle).header.format_version == version
    lost = _rows(vault.home.db_path)

    new_home = tmp_path / "new-home"
    Vault.open(new_home).close()
    result = rebuild_from_bundle(new_home, bundle, list(kit.mnemonics[:2]))
    rebuilt = _rows(new_home / "custodian.db")
    assert result.keys == 2
    for table, rows in lost.items():
        if table == "ledger":  # the lost machine's backup.written came after the bundle's head
            assert rebuilt[table][:result.ledger_seq] == rows[:result.ledger_seq]
        elif table not in ("backups", "backup_keys", "ceremonies"):
            assert rebuilt[table] == rows, table


def _bundle_of(vault, session, quorum, tmp_path, monkeypatch, **header):
    create = backup_module.BundleHeader.create
    monkeypatch.setattr(backup_module.BundleHeader, "create",
                        staticmethod(lambda **f: dataclasses.replace(create(**f), **header)))
    bundle = tmp_path / "backup.ccb"
    write_backup(vault, session, quorum, bundle, ceremony_id=CEREMONY)
    monkeypatch.undo()
    return bundle


def test_a_rebuild_carries_every_setting(practice_vault, session, kit, tmp_path, monkeypatch):
    """Database settings (the token PIN limit the derived PINs are fitted to, key names, purposes,
    activation dates, cryptoperiods) come back with the database; of custodian.toml, the vault's
    policy is carried and what describes the lost HSM is named, the new home's kept."""
    from vault.home import load_config
    from vault.operations.quorum import SETTING_PIN_MAX_LEN
    from vault.types import KeyPurpose

    vault, quorum = practice_vault, kit.quorum
    with vault.store.atomic():
        vault.store.conn.execute("UPDATE share_sets SET status = 'active' WHERE id = ?", (quorum.share_set_id,))
        vault.store.set_setting(SETTING_PIN_MAX_LEN, "12")
    generate_key(vault, session, "dek-wrap", KeyAlgorithm.AES_256, purpose=KeyPurpose.WRAP, cryptoperiod=90,
                 ceremony_id=CEREMONY)
    generate_key(vault, session, "signer-later", KeyAlgorithm.EC_P256, activate_after="2031-01-01T00:00:00Z",
                 cryptoperiod=730, ceremony_id=CEREMONY)
    lost_config = dataclasses.replace(vault.home.config, idle_timeout_seconds=120, kdf_profile="default",
                                      profile_override=(("trusted_wrapping", False),), wrap_mechanism="auto")
    vault.home = dataclasses.replace(vault.home, config=lost_config)
    bundle = _bundle_of(vault, session, quorum, tmp_path, monkeypatch)
    lost = _rows(vault.home.db_path)

    new_home = tmp_path / "new-home"
    Vault.open(new_home).close()
    before = load_config(new_home / "custodian.toml")
    result = rebuild_from_bundle(new_home, bundle, list(kit.mnemonics[1:]))
    rebuilt = _rows(new_home / "custodian.db")
    for table in ("settings", "keys", "key_names", "key_state_history"):
        assert rebuilt[table] == lost[table], table
    assert (SETTING_PIN_MAX_LEN, "12") in [tuple(r[:2]) for r in rebuilt["settings"]]
    keys = {r[1]: r for r in rebuilt["keys"]}
    assert "wrap" in keys["dek-wrap"] and 90 in keys["dek-wrap"] and "2031-01-01T00:00:00Z" in keys["signer-later"]

    after = load_config(new_home / "custodian.toml")
    assert (after.idle_timeout_seconds, after.kdf_profile) == (120, "default") != (before.idle_timeout_seconds,
                                                                                   before.kdf_profile)
    assert (after.profile_override, after.wrap_mechanism, after.module) == (before.profile_override,
                                                                           before.wrap_mechanism, before.module)
    assert any("profile_override" in line and "trusted_wrapping" in line for line in result.settings)
    rebuilt_vault = Vault.open(new_home)
    try:
        event = list(rebuilt_vault.ledger.events())[-1]
    finally:
        rebuilt_vault.close()
    assert event.details["home_config"]["carried"] == {"idle_timeout_seconds": 120, "kdf_profile": "default"}
    assert set(event.details["home_config"]["kept_differing"]) == {"profile_override", "wrap_mechanism"}


def test_a_bundle_of_the_other_mode_is_refused_and_the_home_is_unchanged(practice_vault, session, kit, tmp_path,
                                                                        monkeypatch):
    from vault.errors import BundleMismatch
    from vault.types import Mode

    vault, quorum = practice_vault, kit.quorum
    with vault.store.atomic():
        vault.store.conn.execute("UPDATE share_sets SET status = 'active' WHERE id = ?", (quorum.share_set_id,))
    bundle = _bundle_of(vault, session, quorum, tmp_path, monkeypatch, mode=Mode.PRODUCTION)
    new_home = tmp_path / "new-home"
    Vault.open(new_home).close()
    config_before, db_before = (new_home / "custodian.toml").read_text(), _rows(new_home / "custodian.db")
    with pytest.raises(BundleMismatch, match="production vault; this home is practice"):
        rebuild_from_bundle(new_home, bundle, list(kit.mnemonics[:2]))
    assert (new_home / "custodian.toml").read_text() == config_before and _rows(new_home / "custodian.db") == db_before
