"""The engine on a real practice home (real SQLite file), with steps that need no token:
enrollment, checklist, witness deviation, closing attestations, abort, crash and resume.

Crashes are simulated by raising a BaseException from the engine's hook at a journaled point and
then opening the home again in a fresh ``Vault`` (the process state is gone, the files stay).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vault.ceremony import transcript as T
from vault.ceremony.recovery import abort_unfinished, resume, unfinished
from vault.ceremony.script import ScriptResponder, load_script, run_script, script_options
from vault.ceremony.runner import drive
from vault.vault import Vault

DEF = '''format = 1
name = "smoke"
title = "Smoke"
purpose = "Enroll two people and attest."
roles = ["administrator", "witness"]
quorum = "none"

[[step]]
id = "environment"
kind = "environment"
title = "Air gap"

[[step]]
id = "admin"
kind = "enroll"
title = "Administrator"
[step.params]
role = "administrator"

[[step]]
id = "witness"
kind = "enroll"
title = "Witness"
[step.params]
role = "witness"

[[step]]
id = "room"
kind = "checklist"
title = "Room"
witness = true
[step.params]
items = ["door closed", "phones out"]

[[step]]
id = "attest"
kind = "attest"
title = "Attest"
'''

SCRIPT = '''format = 1
ceremony = "smoke"
[defaults]
checklists = "confirm"
witness = "confirm"
attest = "agree"
[passphrases]
alice = "env:ALICE_PASS"
wendy = "file:wendy.pass"
[answers]
"admin.name" = "alice"
"witness.name" = "wendy"
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ALICE_PASS", "alice-passphrase")
    path = tmp_path / "home"
    Vault.open(path).close()
    (path / "ceremonies").mkdir()
    (path / "ceremonies" / "smoke.toml").write_text(DEF)
    (tmp_path / "wendy.pass").write_text("wendy-passphrase\n")
    return path


def run(home: Path, script_text: str, tmp_path: Path, **kw):
    script = tmp_path / "script.toml"
    script.write_text(script_text)
    vault = Vault.open(home)
    try:
        return run_script(vault, script, kdf_profile="fast-for-tests", **kw), vault
    except BaseException:
        vault.close()
        raise


def test_a_scripted_ceremony_completes_with_signed_attestations(home, tmp_path):
    result, vault = run(home, SCRIPT, tmp_path)
    assert result.ok, result.one_line()
    cid = result.outcome.ceremony_id
    t = T.build(vault, cid)
    assert t["banner"] == "PRACTICE" and "PRACTICE" in T.render_markdown(t)
    assert [a["participant"] for a in t["attestations"]] == ["alice", "wendy"]
    assert T.verify(json.loads(T.to_json(t))).ok
    assert vault.ledger.verify().ok
    assert [s.status.value for s in vault.store.steps_of(cid)] == ["completed"] * 5
    vault.close()


def test_a_tampered_transcript_does_not_verify(home, tmp_path):
    result, vault = run(home, SCRIPT, tmp_path)
    t = json.loads(T.to_json(T.build(vault, result.outcome.ceremony_id)))
    t["ledger"]["events"][1]["details"] = t["ledger"]["events"][1]["details"].replace("practice", "producti")
    report = T.verify(t)
    assert not report.ok and "hash does not match" in report.problems[0]
    vault.close()


def test_a_deviation_is_recorded(home, tmp_path):
    text = SCRIPT + '"room.witness" = { deviation = { expected = "door closed", happened = "door open", ' \
                    'action = "closed it", decided_by = "wendy" } }\n'
    result, vault = run(home, text, tmp_path)
    assert result.ok
    t = T.build(vault, result.outcome.ceremony_id)
    assert t["deviations"][0]["happened"] == "door open"
    vault.close()


def test_do_not_agree_needs_a_comment_and_is_signed(home, tmp_path):
    text = SCRIPT + '"attest.attest:wendy" = [{ agree = false, comment = "the door was open" }]\n'
    result, vault = run(home, text, tmp_path)
    assert result.ok
    t = T.build(vault, result.outcome.ceremony_id)
    assert [a["agree"] for a in t["attestations"]] == [True, False]
    assert T.verify(t).ok
    vault.close()


def test_a_wrong_attestation_passphrase_stops_the_script_naming_the_step(home, tmp_path, monkeypatch):
    monkeypatch.setenv("WRONG", "not-alices-passphrase")
    text = SCRIPT + '"attest.attest:alice" = { agree = true, passphrase = "env:WRONG" }\n'
    result, vault = run(home, text, tmp_path)
    assert not result.ok
    assert result.failure.code == "PASSPHRASE"
    assert result.one_line().endswith("at step 5 'attest': PASSPHRASE: The passphrase was not accepted. "
                                      "Next: Type the passphrase again.")
    assert vault.store.attestations_of(result.outcome.ceremony_id) == []
    vault.close()


def test_abort_is_recorded_with_its_reason(home, tmp_path):
    result, vault = run(home, SCRIPT + '"room.checklist" = { abort = "fire alarm" }\n', tmp_path)
    assert not result.ok and result.outcome.status.value == "aborted"
    c = vault.store.get_ceremony(result.outcome.ceremony_id)
    assert c.status.value == "aborted" and "fire alarm" in c.abort_reason
    assert vault.ledger.verify().ok
    vault.close()


class Crash(BaseException):
    """Stands for the power going out."""


def _crash_at(step_id: str, point: str):
    def hook(p, step):
        if step.id == step_id and p == point:
            raise Crash()
    return hook


def test_crash_mid_step_then_resume(home, tmp_path):
    with pytest.raises(Crash):
        run(home, SCRIPT, tmp_path, hook=_crash_at("room", "step-started"))
    vault = Vault.open(home)  # a fresh process, as after a reboot
    [u] = unfinished(vault)
    assert u.step_id == "room" and u.resumable
    engine, _ = resume(vault, u.ceremony_id, options=script_options(load_script(tmp_path / "script.toml")))
    outcome = drive(engine, ScriptResponder(load_script(tmp_path / "script.toml")))
    assert outcome.ok
    steps = vault.store.steps_of(u.ceremony_id)
    assert [(s.step_id, s.attempt, s.status.value, s.error_code) for s in steps if s.step_id == "room"] == [
        ("room", 1, "failed", "INTERRUPTED"), ("room", 2, "completed", None)]
    assert vault.ledger.verify().ok
    vault.close()


def test_crash_in_a_step_not_safe_to_repeat_can_only_be_aborted(home, tmp_path):
    with pytest.raises(Crash):
        run(home, SCRIPT, tmp_path, hook=_crash_at("witness", "step-started"))
    vault = Vault.open(home)
    [u] = unfinished(vault)
    assert not u.resumable and "not safe to repeat" in u.why_not
    abort_unfinished(vault, u.ceremony_id, "power cut during enrollment")
    c = vault.store.get_ceremony(u.ceremony_id)
    assert c.status.value == "aborted" and "power cut" in c.abort_reason
    assert unfinished(vault) == []
    assert vault.ledger.verify().ok
    vault.close()


def test_recorder_writes_a_replayable_script_with_secrets_as_references(home, tmp_path):
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.recorder import RecordingResponder

    vault = Vault.open(home)
    script_path = tmp_path / "script.toml"
    script_path.write_text(SCRIPT)
    script = load_script(script_path)
    rec = RecordingResponder(ScriptResponder(script), ceremony="smoke")
    engine = Engine(vault, find_definition("smoke", home), options=script_options(script, kdf_profile="fast-for-tests"))
    assert drive(engine, rec).ok
    text = rec.script_text()
    assert "alice-passphrase" not in text and "wendy-passphrase" not in text
    assert '"alice" = "env:PASSPHRASE_ALICE"' in text
    vault.close()
