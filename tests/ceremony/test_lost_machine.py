"""The lost machine: the laptop and its HSM are gone; a quorum of shares and a backup bundle
rebuild the vault on a new home (``custodian home rebuild``, real subprocesses), a restore
ceremony brings the keys back onto a fresh token, and the next ceremonies work.

Also: a rebuild that is refused (a home already in use, shares of another quorum, a bundle of
format 1, a bundle whose metadata does not match its keys) leaves the new home as it was.
"""

from __future__ import annotations

import shutil

import pytest

from support.ceremony_workspace import Workspace
from support.crash import cli, stopped_at
from support.prepared import clone, prepared

SHARES = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
SHARE_ARGS = [a for n in ("alice", "bob", "carol") for a in ("--share", f"file:shares/{n}.share")]
BUNDLE = "media/backup-1.ccb"


def _three_kinds(ws: Workspace) -> None:
    """init; an AES, an EC and an RSA key (named, versioned, with purposes); then a backup."""
    ws.run_ok("init")
    ws.run_ok("generate-key", ws.variant("generate-key", answers={
        "generate.label": "dek-main", "generate.algorithm": "aes-256", "backup.path": "media/g-aes.ccb"}))
    ws.run_ok("generate-key")  # signer-2026, EC P-256
    ws.run_ok("generate-key", ws.variant("generate-key", answers={
        "generate.label": "rsa-root", "generate.algorithm": "rsa-3072", "backup.path": "media/g-rsa.ccb"}))
    ws.run_ok("backup")


@pytest.fixture
def lost(tmp_path_factory, tmp_path, monkeypatch) -> Workspace:
    return clone(prepared(tmp_path_factory, "lost-machine", _three_kinds), tmp_path / "ws", monkeypatch)


def _state(ws: Workspace) -> dict:
    with ws.vault() as v:
        keys = sorted((k.label, k.lineage, k.version, k.algorithm.value, k.state.value, k.fingerprint, k.cka_id,
                       k.purpose.value, k.cryptoperiod_days, k.expires_at, k.activated_at) for k in v.store.list_keys())
        custodians = sorted((c.name, c.role.value, c.public_key_pem, c.status.value)
                            for c in v.store.list_custodians(status=None))
        share_set = v.store.active_share_set()
        holders = sorted((h.custodian_id, h.group_index, h.member_index, h.commitment)
                         for h in v.store.share_holders(share_set.id))
        events = [(e.seq, e.hash) for e in v.ledger.events()]
    return {"keys": keys, "custodians": custodians, "holders": holders, "events": events,
            "share_set": (share_set.name, share_set.identifier, share_set.check_value, share_set.commitment_salt)}


def _lose_machine(ws: Workspace) -> None:
    ws.lose_token()
    shutil.rmtree(ws.home)  # database, ledger, config, logs: all gone
    done = cli(ws, "home", "init")
    assert done.returncode == 0, done.stderr


def test_a_lost_machine_comes_back_from_shares_and_a_bundle(lost):
    ws = lost
    before = _state(ws)
    _lose_machine(ws)

    done = cli(ws, "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS)
    assert done.returncode == 0, done.stderr
    assert "vault rebuilt" in done.stdout and "3 keys" in done.stdout

    after = _state(ws)
    for part in ("keys", "custodians", "holders", "share_set"):
        assert after[part] == before[part], part
    # The ledger is the lost machine's up to the backup, continued by the rebuild.
    with ws.vault() as v:
        rebuilt = list(v.ledger.events())[-1]
    seq, head = rebuilt.details["bundle_ledger_head"]
    assert rebuilt.action == "vault.rebuilt" and rebuilt.seq == seq + 1 and rebuilt.prev_hash == head
    assert after["events"][:seq] == before["events"][:seq] and before["events"][seq - 1] == (seq, head)
    assert rebuilt.details["new_home"]["events"][0]["details"]["home"] == str(ws.home)
    assert cli(ws, "ledger", "verify").returncode == 0

    ws.run_ok("restore", ws.variant("restore", answers={"quorum.share": SHARES, "verify.bundle": BUNDLE}))
    assert {label for label, *_ in ws.token_keys()} >= {"dek-main", "signer-2026", "rsa-root"}
    ws.run_ok("sign")
    ws.run_ok("drill")
    ws.run_ok("reshare")
    done = cli(ws, "ledger", "verify")
    assert done.returncode == 0, done.stderr
    done = cli(ws, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert cli(ws, "ceremony", "unfinished", "--json").stdout.strip() == "[]"


def test_the_bundle_of_a_reshare_rebuilds_with_the_new_shares(lost):
    ws = lost
    ws.run_ok("reshare")  # 2-of-3 alice, bob, dave; new shares in new-shares/, bundle media/after-reshare.ccb
    _lose_machine(ws)
    new_shares = ["--share", "file:new-shares/alice.share", "--share", "file:new-shares/dave.share"]
    done = cli(ws, "home", "rebuild", "--bundle", "media/after-reshare.ccb", *new_shares)
    assert done.returncode == 0, done.stderr
    with ws.vault() as v:
        active = v.store.active_share_set()
        assert active.ceremony_id.startswith("reshare-")
        assert sorted(h.custodian_name for h in v.store.share_holders(active.id)) == ["alice", "bob", "dave"]
        assert not v.store.get_setting("reshare.pending")
        assert list(v.ledger.events())[-1].details["reshare_completed"] == active.ceremony_id
    ws.run_ok("restore")  # the example: media/after-reshare.ccb with the new shares
    ws.run_ok("drill", ws.variant("drill", answers={"quorum.share": [
        {"share": "file:new-shares/bob.share"}, {"share": "file:new-shares/dave.share"}]}))
    assert cli(ws, "ledger", "verify").returncode == 0


def test_a_rebuild_killed_before_its_rename_leaves_the_new_home_and_runs_again(lost):
    ws = lost
    _lose_machine(ws)
    db_before = ws.db_rows(skip=frozenset())
    stopped_at(ws, "rebuild:built", "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS).kill()
    assert ws.db_rows(skip=frozenset()) == db_before  # the home's database was never replaced
    assert (ws.home / ".rebuild-custodian.db").exists()
    done = cli(ws, "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS)  # the stale lock is taken over
    assert done.returncode == 0, done.stderr
    assert not list(ws.home.glob(".rebuild-custodian.db*"))
    assert cli(ws, "ledger", "verify").returncode == 0


def test_a_refused_rebuild_leaves_the_new_home_as_it_was(lost):
    ws = lost
    _lose_machine(ws)
    db_before = ws.db_rows(skip=frozenset())

    import os

    from shamir_mnemonic import generate_mnemonics

    foreign = generate_mnemonics(1, [(2, 3)], os.urandom(32))[0]
    for i, words in enumerate(foreign[:2]):
        (ws.root / f"foreign-{i}.share").write_text(words + "\n")
    other = cli(ws, "home", "rebuild", "--bundle", BUNDLE, "--share", "file:foreign-0.share",
                "--share", "file:foreign-1.share")
    assert other.returncode == 2 and other.stderr.startswith("error: ")
    assert ws.db_rows(skip=frozenset()) == db_before
    assert not (ws.home / ".rebuild-custodian.db").exists()

    assert cli(ws, "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS).returncode == 0
    again = cli(ws, "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS)
    assert again.returncode == 2 and "HOME:" in again.stderr and "only into a new home" in again.stderr


# --- forgeries by a quorum holder: the MAC is recomputed, so only the rebuild's own checks catch them ---
def _remac(ws: Workspace, source: str, target: str, edit) -> str:
    """Re-encode ``source`` with ``edit(header, keys, metadata, trailer)`` applied, every check
    value and the MAC recomputed under the quorum's MAC key (what a quorum holder could do)."""
    import hmac
    import json

    from vault.backup.format import encode_line
    from vault.secret import Secret
    from vault.shares import derive_bundle_mac_key

    objs = [json.loads(x) for x in (ws.root / source).read_bytes().split(b"\n")[:-1]]
    for o in objs:
        del o["check"]
    header, trailer = objs[0], objs[-1]
    keys = [o for o in objs if o["type"] == "key"]
    metadata = [o for o in objs if o["type"] == "metadata"]
    header, keys, metadata, trailer = edit(header, keys, metadata, trailer)
    for i, k in enumerate(keys):
        k["index"] = i
    header["key_count"] = trailer["key_count"] = len(keys)
    body = b"".join(encode_line(o) for o in [header, *keys, *metadata])
    with derive_bundle_mac_key(Secret(ws.quorum_secret())) as mac_key:
        trailer["mac"] = hmac.new(mac_key.reveal(), body, "sha256").hexdigest()
    (ws.root / target).write_bytes(body + encode_line(trailer))
    return target


def _refused(ws: Workspace, bundle: str, code: str, phrase: str) -> None:
    db_before = ws.db_rows(skip=frozenset())
    done = cli(ws, "home", "rebuild", "--bundle", bundle, *SHARE_ARGS)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: {code}: ") and phrase in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1
    assert ws.db_rows(skip=frozenset()) == db_before
    assert not (ws.home / ".rebuild-custodian.db").exists()


def test_forged_bundles_are_refused_and_the_new_home_is_unchanged(lost):
    ws = lost
    _lose_machine(ws)

    def drop_a_key(h, keys, m, t):
        return h, [k for k in keys if k["label"] != "rsa-root"], m, t

    _refused(ws, _remac(ws, BUNDLE, "media/dropped.ccb", drop_a_key), "BUNDLE_MISMATCH",
             "'rsa-root'")

    def other_fingerprint(h, keys, m, t):
        aes = next(k for k in keys if k["label"] == "dek-main")
        aes["fingerprint"] = "kcv:000000"
        return h, keys, m, t

    _refused(ws, _remac(ws, BUNDLE, "media/fingerprint.ccb", other_fingerprint), "BUNDLE_MISMATCH",
             "fingerprint")

    def other_head(h, keys, m, t):
        h["ledger_head"] = "0" * 64
        return h, keys, m, t

    _refused(ws, _remac(ws, BUNDLE, "media/head.ccb", other_head), "BUNDLE_MISMATCH", "does not verify")

    def shorter_ledger(h, keys, m, t):
        h["ledger_seq"] -= 1
        return h, keys, m, t

    _refused(ws, _remac(ws, BUNDLE, "media/seq.ccb", shorter_ledger), "BUNDLE_MISMATCH", "ends its ledger")

    def swapped_chunks(h, keys, m, t):
        assert len(m) >= 1
        m = m[::-1] if len(m) > 1 else m + m
        for i, line in enumerate(m):
            line = dict(line)
            line["index"] = i
            m[i] = line
        t["metadata_count"] = len(m)
        return h, keys, m, t

    _refused(ws, _remac(ws, BUNDLE, "media/chunks.ccb", swapped_chunks), "BUNDLE_MISMATCH", "cannot be read")

    def version_1(h, keys, m, t):
        h = {k: v for k, v in h.items() if k not in ("ledger_seq", "ledger_head")}
        h["format_version"] = 1
        t = {k: v for k, v in t.items() if k != "metadata_count"}
        return h, keys, [], t

    _refused(ws, _remac(ws, BUNDLE, "media/v1.ccb", version_1), "BUNDLE_MISMATCH", "no vault metadata")

    # and the untouched bundle still rebuilds
    assert cli(ws, "home", "rebuild", "--bundle", BUNDLE, *SHARE_ARGS).returncode == 0
