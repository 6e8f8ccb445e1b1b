"""Schema v4 (named, versioned keys) applied to a database made by the main branch before it.

``fixtures/main-schema-v2.db`` was written by main's own code at df553e5 (the script beside it):
keys dek (v1 destroyed, v2 deactivated, v3 active), signer (suspended), old-signer
(compromised). The migration must keep every row and the ledger, give each key its name,
purpose and expiry, and from then on enforce the new rules in the schema itself.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from vault.errors import TransitionRefused
from vault.ledger import Ledger
from vault.store import Store
from vault.types import KeyPurpose, KeyState

FIXTURE = Path(__file__).parent / "fixtures" / "main-schema-v2.db"


@pytest.fixture
def migrated(tmp_path) -> Store:
    path = tmp_path / "custodian.db"
    shutil.copyfile(FIXTURE, path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    store = Store.open(path)
    yield store
    store.close()


def test_keys_keep_their_rows_and_gain_names_purposes_and_expiry(migrated):
    assert migrated.schema_version >= 4
    keys = {k.label: k for k in migrated.list_keys()}
    assert {label: (k.name, k.version, k.state) for label, k in keys.items()} == {
        "dek": ("dek", 1, KeyState.DESTROYED),
        "dek-v2": ("dek", 2, KeyState.DEACTIVATED),
        "dek-v3": ("dek", 3, KeyState.ACTIVE),
        "signer": ("signer", 1, KeyState.SUSPENDED),
        "old-signer": ("old-signer", 1, KeyState.COMPROMISED),
    }
    assert keys["dek-v3"].purpose is KeyPurpose.ENCRYPT and keys["signer"].purpose is KeyPurpose.SIGN
    # expiry = activation + the SP 800-57 default of the purpose (2 years encrypt, 3 years sign)
    assert keys["dek-v3"].expires_at[:4] == str(int(keys["dek-v3"].activated_at[:4]) + 2)
    assert keys["signer"].expires_at[:4] == str(int(keys["signer"].activated_at[:4]) + 3)
    assert keys["dek-v3"].expires_at[10:] == keys["dek-v3"].activated_at[10:]  # same time of day, same format
    assert [n.name for n in migrated.list_key_names()] == ["dek", "old-signer", "signer"]
    assert migrated.get_key_name("dek").min_decryption_version == 1


def test_names_resolve_to_the_newest_active_version(migrated):
    assert migrated.resolve_key("dek").label == "dek-v3"
    assert migrated.resolve_key("dek@2").label == "dek-v2"
    assert migrated.resolve_key("dek-v2").version == 2  # a token label still names its version
    assert migrated.resolve_key("signer").state is KeyState.SUSPENDED  # no active version: the newest


def test_the_ledger_still_verifies_after_the_migration(migrated):
    report = Ledger(migrated).verify()
    assert report.ok and report.count == 10


def test_the_schema_enforces_the_new_rules(migrated):
    migrated.set_min_decryption_version("dek", 2)
    with pytest.raises(TransitionRefused):
        migrated.set_min_decryption_version("dek", 1)  # never lowered
    with pytest.raises(TransitionRefused):
        migrated.set_min_decryption_version("dek", 4)  # not past the newest version
    raw = sqlite3.connect(migrated.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="only goes up"):
            raw.execute("UPDATE key_names SET min_decryption_version = 1 WHERE name = 'dek'")
        with pytest.raises(sqlite3.IntegrityError, match="keeps its name"):
            raw.execute("UPDATE keys SET purpose = 'wrap' WHERE label = 'dek-v3'")
        with pytest.raises(sqlite3.IntegrityError, match="needs its name"):
            raw.execute("INSERT INTO keys (label, cka_id, algorithm, state, lineage, fingerprint, backup_decision, "
                        "token_serial, created_at) VALUES ('x', '01', 'aes-256', 'active', 'nameless', 'f', "
                        "'backed-up', 's', 't')")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            raw.execute("DELETE FROM key_names WHERE name = 'signer'")
    finally:
        raw.close()
