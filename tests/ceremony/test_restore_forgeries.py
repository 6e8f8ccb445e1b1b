"""Restore refuses a bundle forged by someone who holds the quorum, before any token is touched.

Each forgery below is re-MACed with the quorum's own bundle MAC key (derived from the share
files with vault.shares), so the MAC verifies and only the check of the bundle against the
vault's record of that backup, or the test unwrap in a throwaway scratch token, can catch it.
After each refused restore the token directory, the database (every table, settings included),
the workspace's files and the ledger (only the failed ceremony's own bookkeeping) are exactly
as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from support.ceremony_workspace import BOOKKEEPING, Workspace
from support.prepared import clone, prepared
from vault.backup.format import inspect_bundle, write_bundle
from vault.secret import Secret
from vault.shares import derive_bundle_mac_key

SHARES = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
BUNDLE = "media/backup-1.ccb"


def _build(ws: Workspace) -> None:
    """init, three keys (EC signer-2026, AES aes-a and aes-b), one backup holding all three."""
    ws.run_ok("init")
    ws.run_ok("generate-key")
    for label in ("aes-a", "aes-b"):
        ws.run_ok("generate-key", ws.variant("generate-key", answers={
            "generate.label": label, "generate.algorithm": "aes-256", "backup.path": f"media/after-{label}.ccb"}))
    ws.run_ok("backup")
    ws.lose_token()


@pytest.fixture
def lost(tmp_path_factory, tmp_path, monkeypatch) -> Workspace:
    return clone(prepared(tmp_path_factory, "three-keys-backed-up", _build), tmp_path / "ws", monkeypatch)


def forge(ws: Workspace, name: str, change) -> str:
    """A copy of the backup with its entries changed by ``change(entries) -> entries``, the header's
    key count set to match, and the MAC recomputed with the quorum's bundle MAC key."""
    contents = inspect_bundle(ws.root / BUNDLE)
    entries = change(list(contents.entries))
    header = dataclasses.replace(contents.header, key_count=len(entries))
    with derive_bundle_mac_key(Secret(ws.quorum_secret())) as mac_key:
        write_bundle(ws.root / "media" / name, header, entries, mac_key)
    return f"media/{name}"


def state(ws: Workspace) -> tuple:
    tokens = ws.home / "tokens"
    listing = tuple(sorted((str(p.relative_to(tokens)), hashlib.sha256(p.read_bytes()).hexdigest())
                           for p in tokens.rglob("*") if p.is_file()))
    return ws.db_rows(), ws.files(), listing


def restore(ws: Workspace, bundle: str):
    return ws.run("restore", ws.variant("restore", answers={"quorum.share": SHARES, "verify.bundle": bundle}))


def assert_refused(ws: Workspace, bundle: str, code: str, *fragments: str) -> str:
    before = state(ws)
    with ws.vault() as v:
        seq = v.ledger.head().seq
    result = restore(ws, bundle)
    assert not result.ok
    assert (result.outcome.step_id, result.outcome.code) == ("verify", code), result.one_line()
    for fragment in fragments:
        assert fragment in result.outcome.message, result.outcome.message
    rows, files, tokens = state(ws)
    assert rows == before[0], "the database changed"
    assert files == before[1], "files changed"
    assert tokens == before[2], "the token directory changed"
    with ws.vault() as v:
        assert v.hsm().tokens() == []  # no replacement token was initialised
        added = list(v.ledger.events(seq + 1))
        assert {e.action for e in added} <= BOOKKEEPING and v.ledger.verify().ok
    return result.outcome.message


def _by_label(entries, label):
    return next(i for i, e in enumerate(entries) if e.label == label)


def test_a_dropped_key_is_named(lost: Workspace):
    bundle = forge(lost, "dropped.ccb", lambda es: [e for e in es if e.label != "aes-a"])
    message = assert_refused(lost, bundle, "BUNDLE_MISMATCH", "does not match backup",
                             "the header's key count is 2, the vault recorded 3",
                             "key 'aes-a' (kcv:")
    assert "is missing from the bundle" in message


def test_a_duplicated_key_is_named(lost: Workspace):
    def duplicate(es):
        return es + [es[_by_label(es, "aes-b")]]

    assert_refused(lost, forge(lost, "duplicated.ccb", duplicate), "BUNDLE_MISMATCH",
                   "key 'aes-b' appears 2 times", "the header's key count is 4, the vault recorded 3")


def test_a_duplicate_that_keeps_the_count_is_named(lost: Workspace):
    """aes-a's line replaced by a second aes-b: the key count still agrees."""
    def duplicate(es):
        es[_by_label(es, "aes-a")] = es[_by_label(es, "aes-b")]
        return es

    message = assert_refused(lost, forge(lost, "duplicated-same-count.ccb", duplicate), "BUNDLE_MISMATCH",
                             "key 'aes-b' appears 2 times", "key 'aes-a' (kcv:")
    assert "key count" not in message


def test_a_fingerprint_that_differs_from_the_record_is_named(lost: Workspace):
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = other.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fp = "sha256:" + hashlib.sha256(der).hexdigest()

    def refingerprint(es):
        i = _by_label(es, "signer-2026")
        es[i] = dataclasses.replace(es[i], public_key_pem=pem, fingerprint=fp)
        return es

    with lost.vault() as v:
        recorded = v.store.get_key_by_label("signer-2026").fingerprint
    assert_refused(lost, forge(lost, "fingerprint.ccb", refingerprint), "BUNDLE_MISMATCH",
                   f"key 'signer-2026': the bundle's fingerprint is {fp}, the vault recorded {recorded}")


def test_a_changed_cka_id_is_named(lost: Workspace):
    def reid(es):
        i = _by_label(es, "aes-a")
        es[i] = dataclasses.replace(es[i], cka_id="00" * 16)
        return es

    assert_refused(lost, forge(lost, "cka-id.ccb", reid), "BUNDLE_MISMATCH",
                   f"key 'aes-a': the bundle's CKA_ID is {'00' * 16}, the vault recorded")


def test_a_blob_that_does_not_unwrap_is_named(lost: Workspace):
    def random_blob(es):
        i = _by_label(es, "aes-b")
        es[i] = dataclasses.replace(es[i], wrapped=os.urandom(len(es[i].wrapped)))
        return es

    message = assert_refused(lost, forge(lost, "random-blob.ccb", random_blob), "HSM_UNWRAP",
                             "Key 'aes-b' of the bundle:")
    print(message)
    assert "aes-a" not in message


def test_swapped_blobs_are_named(lost: Workspace):
    """Two AES keys' blobs exchanged: both unwrap, but to the other key (its KCV gives it away)."""
    def swap(es):
        a, b = _by_label(es, "aes-a"), _by_label(es, "aes-b")
        es[a], es[b] = dataclasses.replace(es[a], wrapped=es[b].wrapped), dataclasses.replace(es[b], wrapped=es[a].wrapped)
        return es

    with lost.vault() as v:
        kcv = {k: v.store.get_key_by_label(k).fingerprint for k in ("aes-a", "aes-b")}
    assert_refused(lost, forge(lost, "swapped.ccb", swap), "HSM_CHECK",
                   f"Key 'aes-a' of the bundle: The restored 'aes-a' has KCV {kcv['aes-b']}, expected {kcv['aes-a']}.")


def test_a_bundle_the_vault_never_recorded_is_refused(lost: Workspace):
    contents = inspect_bundle(lost.root / BUNDLE)
    header = dataclasses.replace(contents.header, ceremony_id="backup-19990101-000000-dead")
    with derive_bundle_mac_key(Secret(lost.quorum_secret())) as mac_key:
        write_bundle(lost.root / "media" / "unknown.ccb", header, contents.entries, mac_key)
    assert_refused(lost, "media/unknown.ccb", "BUNDLE_MISMATCH",
                   "(ceremony backup-19990101-000000-dead, written", "is not a backup this vault recorded")


def test_reordered_lines_of_the_recorded_keys_restore(lost: Workspace):
    """Only the order changed: the same keys as recorded, so the restore goes ahead."""
    bundle = forge(lost, "reordered.ccb", lambda es: list(reversed(es)))
    result = restore(lost, bundle)
    assert result.ok, result.one_line()
    assert [k[0] for k in lost.token_keys()] == ["aes-a", "aes-b", "signer-2026"]


def test_the_recorded_bundle_restores_and_leaves_no_scratch_token(lost: Workspace):
    result = restore(lost, BUNDLE)
    assert result.ok, result.one_line()
    with lost.vault() as v:
        assert [t.label for t in v.hsm().tokens()] == ["custodian-practice"]  # the scratch token is gone
    assert [k[0] for k in lost.token_keys()] == ["aes-a", "aes-b", "signer-2026"]
    summary = [s for s in _steps(lost, result.outcome.ceremony_id) if s[0] == "verify"][0]
    assert "3 keys test-unwrapped" in summary[1]


def _steps(ws: Workspace, ceremony_id: str) -> list[tuple[str, str]]:
    with ws.vault() as v:
        return [(s.step_id, (s.result or {}).get("summary", "")) for s in v.store.steps_of(ceremony_id)
                if s.status.value == "completed"]



UNCHECKED = '''format = 1
name = "restore-unchecked"
title = "Restore without checking the bundle first"
purpose = "A user definition that forgot the verify-bundle step."
roles = ["administrator", "witness", "custodian"]
quorum = "existing"
preconditions = ["initialised", "has-backup"]

[[step]]
id = "participants"
kind = "participants"
title = "Name the administrator and the witness"

[[step]]
id = "quorum"
kind = "quorum"
title = "Activate the quorum"

[[step]]
id = "token"
kind = "init-token"
title = "Initialise the fresh token"
[step.params]
replacement = true

[[step]]
id = "restore"
kind = "restore"
title = "Restore the keys"
'''


def test_a_replacement_token_needs_a_checked_bundle_first(lost: Workspace):
    """A definition without verify-bundle cannot initialise a replacement token before the check."""
    (lost.home / "ceremonies").mkdir()
    (lost.home / "ceremonies" / "restore-unchecked.toml").write_text(UNCHECKED)
    script = lost.variant("restore", ceremony="restore-unchecked", drop=("verify.bundle",),
                          answers={"quorum.share": SHARES, "restore.bundle": BUNDLE})
    result = lost.run("restore-unchecked", script)
    assert (result.outcome.step_id, result.outcome.code) == ("token", "PRECONDITION"), result.one_line()
    assert "only after the bundle to restore was checked" in result.outcome.message
    with lost.vault() as v:
        assert v.hsm().tokens() == []
