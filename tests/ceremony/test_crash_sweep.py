"""The crash sweep: a real ``custodian ceremony run`` process is stopped at a journal boundary or
inside a step that is not safe to repeat (vault.crashpoint), killed with SIGKILL, and recovered
headless — ``ceremony resume`` or ``ceremony abort`` (then, where the abort left an orphan on
the token, the quorum-gated reconcile ceremony). After every trial: no unfinished ceremony,
``doctor`` healthy, ``ledger verify`` OK, the token and the database agree (a logged-in
reconcile), no key lost (every live key that existed before is on the token), and no temp file,
unrecorded bundle or void share file left behind.

Homes are prepared once (tests/support/prepared.py) and copied per trial: the kill and the
recovery always run on a fresh copy. EC/AES keys only, to keep the sweep short.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from support.ceremony_workspace import Workspace
from support.crash import cli, stopped_at
from support.prepared import clone, prepared

SHARES = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]


def _keyed(ws: Workspace) -> None:
    """init, signer-2026 (EC) and a backup; then rotated (signer-2026 deactivated, -v2 active)."""
    ws.run_ok("init")
    ws.run_ok("generate-key")
    ws.run_ok("rotate")


def _lost(ws: Workspace) -> None:
    _keyed(ws)
    ws.lose_token()


def _empty(ws: Workspace) -> None:
    """A new practice home, nothing in it yet."""
    with ws.vault():
        pass


def home(kind, tmp_path_factory, tmp_path, monkeypatch) -> Workspace:
    build = {"keyed": _keyed, "lost": _lost, "init": _empty}[kind]
    return clone(prepared(tmp_path_factory, f"sweep-{kind}", build), tmp_path / "ws", monkeypatch)


def custodian(ws: Workspace, *args: str) -> tuple[int, str]:
    """The CLI in this process (the killed run was the real subprocess)."""
    from console.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["--home", str(ws.home), *args])
    return code, out.getvalue()


def scripts(ws: Workspace) -> dict[str, str]:
    return {
        "generate-key": str(ws.variant("generate-key", answers={
            "generate.label": "aes-new", "generate.algorithm": "aes-256", "backup.path": "media/new.ccb"})),
        "backup": str(ws.variant("backup", answers={"backup.path": "media/sweep.ccb"})),
        "rotate": str(ws.variant("rotate", answers={"rotate.key": "signer-2026-v2", "backup.path": "media/rot.ccb"})),
        "destroy": str(ws.variant("destroy")),
        "restore": str(ws.variant("restore", answers={"quorum.share": SHARES,
                                                      "verify.bundle": "media/after-rotate-signer-2026.ccb"})),
        "init": str(ws.root / "init.toml"),
        "reshare": str(ws.root / "reshare.toml"),
        "backup-new-shares": str(ws.variant("backup", answers={"backup.path": "media/settled.ccb", "quorum.share": [
            {"share": "file:new-shares/alice.share"}, {"share": "file:new-shares/bob.share"}]})),
    }


def live_keys(ws: Workspace) -> set[tuple[str, str]]:
    with ws.vault() as v:
        return {(k.label, k.fingerprint) for k in v.store.list_keys()
                if k.state.value not in ("destroyed", "destroyed-compromised")}


def assert_healthy(ws: Workspace, keys_before: set[tuple[str, str]], *, destroyed: set[str] = frozenset(),
                   shares: str = "shares") -> None:
    code, out = custodian(ws, "ceremony", "unfinished", "--json")
    assert code == 0 and json.loads(out) == [], out
    code, out = custodian(ws, "ledger", "verify")
    assert code == 0, out
    code, out = custodian(ws, "doctor")
    assert code == 0, out
    with ws.vault() as v:
        from vault.operations.reconcile import reconcile
        from vault.secret import Secret
        from vault.shares import derive_user_pin

        with derive_user_pin(Secret(ws.quorum_secret(shares))) as pin:
            with v.hsm().open_session(v.token, pin) as session:
                report = reconcile(v, session)
        assert report.ok, report.differences()
        assert not [k for k in v.store.settings() if k.startswith("intent.")], "an intent was left open"
    after = live_keys(ws)
    lost = {k for k in keys_before if k[0] not in destroyed} - after
    assert not lost, f"keys lost: {lost}"
    leftovers = [p for p in ws.root.rglob("*.partial")] + [p for p in ws.root.rglob(".crash-ready-*")]
    assert not leftovers, leftovers
    with ws.vault() as v:
        recorded = {b.path for b in v.store.list_backups()}
    for bundle in (ws.root / "media").glob("*.ccb"):
        assert str(bundle.resolve()) in recorded or bundle.name in GOLDEN_BUNDLES, f"unrecorded bundle {bundle}"


# bundles of the prepared homes (their rows name the golden copy's paths)
GOLDEN_BUNDLES = {"after-generate-signer-2026.ccb", "after-rotate-signer-2026.ccb"}


def recover(ws: Workspace, how: str, script: str) -> str:
    code, out = custodian(ws, "ceremony", "unfinished", "--json")
    [u] = json.loads(out)
    if how == "resume":
        assert u["resumable"], u
        code, out = custodian(ws, "ceremony", "resume", u["ceremony_id"], "--script", script)
    else:
        code, out = custodian(ws, "ceremony", "abort", u["ceremony_id"], "--reason", "killed in the crash sweep")
    assert code == 0, out
    return u["ceremony_id"]


TRIALS = [
    # (home, ceremony, crash point, recovery, then)
    ("keyed", "generate-key", "journal:generate:started", "resume", None),
    ("keyed", "generate-key", "generate:on-token", "resume", None),
    ("keyed", "generate-key", "generate:on-token", "abort", "reconcile-adopt"),
    ("keyed", "generate-key", "journal:generate:finished", "resume", None),
    ("keyed", "generate-key", "backup:published", "resume", None),
    ("keyed", "generate-key", "backup:published", "abort", None),
    ("keyed", "backup", "journal:backup:started", "resume", None),
    ("keyed", "backup", "backup:published", "abort", None),
    ("keyed", "backup", "journal:backup:finished", "abort", None),
    ("keyed", "rotate", "rotate:on-token", "resume", None),
    ("keyed", "rotate", "rotate:on-token", "abort", "reconcile-destroy"),
    ("keyed", "destroy", "destroy:gone", "resume", None),
    ("keyed", "destroy", "destroy:gone", "abort", "reconcile-tombstone"),
    ("keyed", "destroy", "journal:destroy:started", "resume", None),
    ("lost", "restore", "journal:token:finished", "resume", None),
    ("lost", "restore", "restore:unwrapped:1", "resume", None),
    ("lost", "restore", "restore:unwrapped:1", "abort", "rerun"),
    ("init", "init", "journal:token:finished", "abort", "rerun"),
    ("init", "init", "journal:distribute:started", "abort", "rerun"),
    ("init", "init", "commit-share-set:pins-rekeyed", "abort", "rerun"),
    # reshare: cut before the switch, the rerun's quorum abandons the pending set and removes its
    # void share files (else they would block the rerun's export); cut after the token's PINs were
    # re-keyed, a ceremony with the new shares completes the switch.
    ("keyed", "reshare", "reshare-commit:pending-recorded", "abort", "rerun"),
    ("keyed", "reshare", "reshare-commit:bundle-written", "abort", "rerun"),
    ("keyed", "reshare", "reshare-commit:pins-rekeyed", "abort", "settle-new"),
]


@pytest.mark.parametrize("kind, name, point, how, then", TRIALS, ids=[f"{t[1]}@{t[2]}->{t[3]}" for t in TRIALS])
def test_kill_then_recover_headless(tmp_path_factory, tmp_path, monkeypatch, kind, name, point, how, then):
    ws = home(kind, tmp_path_factory, tmp_path, monkeypatch)
    script = scripts(ws)[name]
    before = live_keys(ws) if kind != "init" else set()
    stopped_at(ws, point, "ceremony", "run", name, "--script", script).kill()
    cid = recover(ws, how, script)
    if how == "abort":
        with ws.vault() as v:  # an aborted ceremony keeps no backup of its own (recovery rule of backup)
            assert v.store.backups_of_ceremony(cid) == []
            assert v.store.custodians_enrolled_by(cid) == []  # nor an enrollment (init)
    destroyed = {"signer-2026"} if name == "destroy" else set()
    if then == "rerun":
        for leftover in (ws.root / "shares").glob("*.share") if name == "init" else ():
            raise AssertionError(f"void share file left: {leftover}")
        code, out = custodian(ws, "ceremony", "run", name, "--script", script)
        assert code == 0, out
    elif then == "settle-new":
        code, out = custodian(ws, "ceremony", "run", "backup", "--script", scripts(ws)["backup-new-shares"])
        assert code == 0, out
    elif then and then.startswith("reconcile"):
        # a logged-in ceremony now stops before changing anything, naming the difference
        code, out = custodian(ws, "ceremony", "run", "backup", "--script", scripts(ws)["backup"])
        assert code == 1 and "HSM_TOKEN_DISAGREES" in out, out
        answers = {"quorum.share": SHARES}
        if then == "reconcile-adopt":
            answers["resolve.orphan:aes-new"] = "adopt"
        elif then == "reconcile-destroy":
            answers["resolve.orphan:signer-2026-v3"] = "destroy"
            answers["resolve.confirm-destroy:signer-2026-v3"] = "signer-2026-v3"
        else:
            answers["resolve.tombstone:signer-2026"] = True
        code, out = custodian(ws, "ceremony", "run", "reconcile", "--script", str(ws.variant("reconcile", answers=answers)))
        assert code == 0, out
        if then == "reconcile-adopt":
            assert ("aes-new" in {label for label, _ in live_keys(ws)})
    assert_healthy(ws, before, destroyed=destroyed, shares="new-shares" if name == "reshare" else "shares")
