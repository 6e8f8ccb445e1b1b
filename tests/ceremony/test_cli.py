"""`custodian ceremony run NAME --script FILE [--json]`: exit 0 only when the ceremony completed,
otherwise non-zero with one line naming the step; run as a real subprocess and in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from console.cli import main as custodian
from support.ceremony_workspace import PEOPLE, REPO, Workspace, passphrase


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSPHRASE_")}
    env.update({f"PASSPHRASE_{p.upper()}": passphrase(p) for p in PEOPLE})
    env["PYTHONPATH"] = str(REPO)
    return env


def test_init_as_a_subprocess_then_the_ledger_verifies(ws: Workspace):
    made = subprocess.run([sys.executable, "-m", "console.cli", "--home", str(ws.home), "home", "init"], env=_env(),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    cmd = [sys.executable, "-m", "console.cli", "--home", str(ws.home), "ceremony", "run", "init",
           "--script", str(ws.root / "init.toml")]
    done = subprocess.run(cmd, env=_env(), cwd=ws.root, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ceremony init-") and done.stdout.strip().endswith("completed")
    assert done.stderr == ""
    verify = subprocess.run([sys.executable, "-m", "console.cli", "--home", str(ws.home), "ledger", "verify"],
                            env=_env(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert verify.returncode == 0 and verify.stdout.startswith("ledger OK")
    assert len(list((ws.root / "shares").glob("*.share"))) == 5
    # a failing run: non-zero, one line on stderr naming the step
    script = ws.variant("generate-key", answers={"quorum.share": [{"share": "file:shares/alice.share"}]})
    done = subprocess.run([sys.executable, "-m", "console.cli", "--home", str(ws.home), "ceremony", "run",
                           "generate-key", "--script", str(script)], env=_env(), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ceremony generate-key-") and " aborted at step 3 'quorum': QUORUM_INCOMPLETE: " in line


def test_exit_status_and_json_in_process(ws: Workspace, capsys):
    ws.replay("generate-key")
    home = ["--home", str(ws.home)]
    capsys.readouterr()
    assert custodian(home + ["ceremony", "run", "backup", "--script", str(ws.root / "backup.toml"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["status"] == "completed"
    # what runs is read aloud before the first step: the definition's and the console's SHA-256
    assert [e["type"] for e in out["events"]][:4] == ["CeremonyStarted", "ReadAloud", "ReadAloud", "StepStarted"]
    assert out["events"][1]["title"] == "Ceremony definition backup: SHA-256"
    assert out["events"][-1]["type"] == "CeremonyCompleted"

    script = ws.variant("backup", answers={"quorum.share": [{"share": "file:shares/alice.share"}],
                                          "backup.path": "media/backup-2.ccb"})  # one share of three
    assert custodian(home + ["ceremony", "run", "backup", "--script", str(script), "--json"]) == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["ok"] is False and out["status"] == "aborted"
    [line] = captured.err.splitlines()
    assert line == f"error: {out['message']}"
    assert "aborted at step 3 'quorum': QUORUM_INCOMPLETE: Not enough shares: 1 of 3" in line

    # a script the check refuses (the bundle exists now) never starts: exit 2, no JSON outcome
    script = ws.variant("backup", answers={"backup.path": "media/backup-1.ccb"})
    assert custodian(home + ["ceremony", "run", "backup", "--script", str(script), "--json"]) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert captured.out == "" and line.startswith("error: ceremony backup: SCRIPT: ")
    assert f"{ws.root / 'media' / 'backup-1.ccb'} already exists" in line

    # a ceremony that cannot start (precondition) is an error before the first step, exit 2
    assert custodian(home + ["ceremony", "run", "init", "--script", str(ws.root / "init.toml")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: ceremony init: PRECONDITION: This vault is already initialised")


def test_doctor_shows_the_probe_the_ceremonies_recorded(ws: Workspace, capsys):
    ws.replay("generate-key")
    capsys.readouterr()
    custodian(["--home", str(ws.home), "doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    caps = report["capabilities"]
    assert caps["self_test_ok"] is True and caps["wrap_mechanism"] == "AES_KEY_WRAP_PAD"
    assert caps["algorithms"]["ec-p256"] == {"generate": True, "sign": True, "wrap": True, "unwrap": True,
                                             "note": caps["algorithms"]["ec-p256"]["note"]}
    assert caps["algorithms"]["ed25519"]["wrap"] is False
