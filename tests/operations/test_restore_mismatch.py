"""Restore of a bundle whose entry disagrees with the database's record of that key (its
CKA_ID or its fingerprint): refused, with no key created on the token and no row changed.

The bundle is forged consistently: the entry's line check and the trailer's MAC are recomputed
with the quorum's own bundle MAC key (derived from the share files by the documented label),
so the bundle verifies; only the comparison with the database can catch it.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from support.ceremony_workspace import Workspace
from vault.backup.format import encode_line
from vault.secret import Secret
from vault.shares import derive_bundle_mac_key

SHARES = [{"share": "file:shares/alice.share"}, {"share": "file:shares/bob.share"}, {"share": "file:shares/carol.share"}]


def forge(ws: Workspace, source, target, change) -> None:
    lines = source.read_bytes().splitlines(keepends=True)
    header, entries, trailer = lines[0], lines[1:-1], json.loads(lines[-1])
    changed = []
    for raw in entries:
        entry = json.loads(raw)
        if entry.get("label") == "signer-2026":  # (format 2: the metadata lines follow the keys)
            del entry["check"]
            change(entry)
            raw = encode_line(entry)
        changed.append(raw)
    with derive_bundle_mac_key(Secret(ws.quorum_secret())) as key:
        mac = hmac.new(key.reveal(), header + b"".join(changed), hashlib.sha256).hexdigest()
    del trailer["check"]
    trailer["mac"] = mac
    target.write_bytes(header + b"".join(changed) + encode_line(trailer))


@pytest.fixture
def backed_up(tmp_path, monkeypatch) -> Workspace:
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.replay("backup")
    return ws


@pytest.mark.parametrize("field", ["cka_id", "fingerprint"])
def test_a_bundle_entry_that_disagrees_with_the_database_is_refused(backed_up: Workspace, field):
    from vault.backup.format import verify_bundle

    ws = backed_up
    forged = ws.root / "media" / f"forged-{field}.ccb"

    def change(entry):
        if field == "cka_id":
            entry["cka_id"] = "00" * (len(entry["cka_id"]) // 2)
        else:  # another public key, with its own fingerprint: self-consistent, but not the vault's key
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec

            pub = ec.generate_private_key(ec.SECP256R1()).public_key()
            der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            entry["public_key_pem"] = pub.public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
            entry["fingerprint"] = "sha256:" + hashlib.sha256(der).hexdigest()

    forge(ws, ws.root / "media" / "backup-1.ccb", forged, change)
    with derive_bundle_mac_key(Secret(ws.quorum_secret())) as key:
        verify_bundle(forged, key)  # the forgery is a valid bundle: MAC and line checks hold
    rows = ws.db_rows()
    ws.lose_token()
    script = ws.variant("restore", answers={"quorum.share": SHARES, "verify.bundle": f"media/{forged.name}"})
    result = ws.run("restore", script)
    assert not result.ok
    line = result.one_line()
    # refused by the whole-bundle check before the replacement token is initialised (issue 14)
    assert "aborted at step 4 'verify': BUNDLE_MISMATCH: " in line and "does not match backup" in line
    assert f"key 'signer-2026': the bundle's {'CKA_ID' if field == 'cka_id' else 'fingerprint'} is " in line
    with ws.vault() as v:
        assert v.hsm().tokens() == []  # no replacement token was initialised, so it holds no key
    after = ws.db_rows()
    for table in ("keys", "key_history", "backups"):
        if table in rows:
            assert after[table] == rows[table], table
