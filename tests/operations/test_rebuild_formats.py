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
