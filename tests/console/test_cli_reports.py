"""The reporting commands of `custodian`: doctor, keys list, custodians list, ledger verify.

Each runs in-process through ``console.cli.main`` against a practice workspace whose token and
database were made by the example ceremony scripts (real SoftHSM token, real SQLite file).
Failures must exit non-zero with exactly one line on stderr.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from console.cli import main as custodian
from vault.types import KeyAlgorithm
from support.ceremony_workspace import Workspace


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws", monkeypatch)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = custodian(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_new_practice_home_reports_no_token_yet_and_a_genesis_event(tmp_path, capsys):
    home = str(tmp_path / "home")
    code, out, err = run(capsys, "--home", home, "home", "init")
    assert code == 0 and out.startswith("practice home ready at"), err
    code, out, err = run(capsys, "--home", home, "doctor", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["mode"] == "practice" and report["ok"] is True
    token = [f for f in report["findings"] if f["area"] == "token"]
    assert token[0]["severity"] == "warning" and "init ceremony" in token[0]["next_step"]
    assert report["ledger"]["count"] == 1 and report["ledger"]["head_words"]
    code, out, _ = run(capsys, "--home", home, "ledger", "verify")
    assert code == 0 and out.startswith("ledger OK: 1 events")
    code, out, _ = run(capsys, "--home", home, "keys", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_after_init_and_generate_key_every_listing_shows_the_vault(ws: Workspace, capsys):
    ws.run_ok("init")
    ws.run_ok("generate-key")
    home = str(ws.home)

    code, out, err = run(capsys, "--home", home, "keys", "list", "--json")
    assert code == 0, err
    keys = json.loads(out)
    assert keys and all(k["state"] == "active" and k["fingerprint"] for k in keys)
    assert {k["algorithm"] for k in keys} <= {a.value for a in KeyAlgorithm}
    assert all(k["backup"] for k in keys)

    code, out, _ = run(capsys, "--home", home, "custodians", "list", "--json")
    roles = {c["role"] for c in json.loads(out)}
    assert code == 0 and roles == {"administrator", "custodian", "witness"}

    code, out, _ = run(capsys, "--home", home, "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], out
    assert report["token"]["label"] and report["capabilities"]["self_test_ok"] is True
    objects = [f for f in report["findings"] if f["area"] == "token objects"]
    assert [f["severity"] for f in objects] == ["ok"]  # public halves match the database
    code, out, _ = run(capsys, "--home", home, "doctor")
    assert code == 0 and "result: healthy" in out


def test_doctor_names_an_unfinished_ceremony(ws: Workspace, capsys):
    ws.run_ok("init")
    from vault.vault import Vault

    vault = Vault.open(ws.home)  # a ceremony that started and never ended: a crash
    vault.store.start_ceremony("cer-interrupted", definition_name="backup", definition_sha256="0" * 64,
                               mode=vault.mode, script_driven=True)
    vault.close()
    code, out, err = run(capsys, "--home", str(ws.home), "doctor", "--json")
    assert code == 0, err
    warnings = [f for f in json.loads(out)["findings"] if f["area"] == "ceremony"]
    assert any("backup (cer-interrupted)" in f["message"] for f in warnings)


def test_a_tampered_ledger_fails_verify_and_doctor_with_the_sequence_number(tmp_path, capsys):
    home = tmp_path / "home"
    assert run(capsys, "--home", str(home), "home", "init")[0] == 0
    assert run(capsys, "--home", str(home), "ledger", "verify")[0] == 0
    db = sqlite3.connect(home / "custodian.db")
    triggers = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='ledger'")]
    for name in triggers:
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE ledger SET hash = ? WHERE seq = 1", ("f" * 64,))
    db.commit()
    db.close()
    code, _, err = run(capsys, "--home", str(home), "ledger", "verify")
    assert code == 1 and "event #1" in err
    code, out, _ = run(capsys, "--home", str(home), "doctor")
    assert code == 1 and "[FAIL] ledger: chain broken at event #1" in out


def test_a_directory_that_is_not_a_home_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("not a console home")
    code, out, err = run(capsys, "--home", str(tmp_path / "stuff"), "keys", "list")
    assert code == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith("error: NO_VAULT: No vault at ") and "Next:" in line
    assert (tmp_path / "stuff" / "notes.txt").read_text() == "not a console home"  # nothing written
    assert sorted(p.name for p in (tmp_path / "stuff").iterdir()) == ["notes.txt"]


def test_doctor_is_healthy_after_a_whole_key_lifecycle(ws: Workspace, capsys):
    """init -> generate -> (sign, backup, drill) -> rotate -> compromise -> destroy: the destroyed
    key's public half is gone from the token on purpose, which is not a problem."""
    ws.replay("destroy")
    code, out, err = run(capsys, "--home", str(ws.home), "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True, out
    objects = [f for f in report["findings"] if f["area"] == "token objects"]
    assert [f["severity"] for f in objects] == ["ok"], objects
    states = {k["label"]: k["state"] for k in json.loads(run(capsys, "--home", str(ws.home), "keys", "list", "--json")[1])}
    assert states["signer-2026"] == "destroyed-compromised" and states["signer-2026-v2"] == "active"
    code, out, _ = run(capsys, "--home", str(ws.home), "doctor")
    assert code == 0 and "result: healthy" in out


def test_doctor_shows_the_hsm_profile_and_what_the_probe_measured(ws: Workspace, capsys):
    """The profile is chosen by manufacturer and model (tested here / from documentation) and
    custodian.toml can name another; the token line carries the PIN limits and the slot."""
    ws.replay("generate-key")  # a ceremony opened the token: the probe ran and was recorded
    code, out, err = run(capsys, "--home", str(ws.home), "doctor", "--json")
    report = json.loads(out)
    profile = [f["message"] for f in report["findings"] if f["area"] == "profile"]
    assert profile[0] == "SoftHSM 2.6 (tested here)", profile
    assert report["token"]["profile"]["key"] == "softhsm-2.6"
    token_line = next(f["message"] for f in report["findings"] if f["area"] == "token")
    assert "PINs 4-255 characters" in token_line and "slot " in token_line
    caps = [f["message"] for f in report["findings"] if f["area"] == "capabilities"]
    assert any("wrap mechanisms offered: AES_KEY_WRAP_PAD; in use AES_KEY_WRAP_PAD; CKA_CHECK_VALUE set" in c
               for c in caps), caps
    config = ws.home / "custodian.toml"
    config.write_text(config.read_text().replace("[identity]", 'profile = "thales-luna"\n\n[identity]', 1))
    code, out, err = run(capsys, "--home", str(ws.home), "doctor")
    assert "profile: Thales Luna Network/PCIe HSM 7 (from vendor documentation, not tested here)" in out, out


def test_ledger_verify_with_nothing_after_its_checkpoint_says_so(ws: Workspace, capsys):
    """Seen in the lead's walk: with the checkpoint at the head, the scope read 'events 124..123'."""
    ws.run_ok("init")
    home = str(ws.home)
    assert run(capsys, "--home", home, "ledger", "verify")[0] == 0
    code, out, _ = run(capsys, "--home", home, "ledger", "verify")
    assert code == 0
    scope = next(line for line in out.splitlines() if line.startswith("hashes checked:"))
    assert scope.startswith("hashes checked: no event after the last verified checkpoint, event "), scope
    assert ".." not in scope, scope
