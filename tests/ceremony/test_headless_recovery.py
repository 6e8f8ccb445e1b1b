"""One writer per home, and headless recovery from the command line, with real processes.

A ``custodian ceremony run`` is stopped at a crash point (it then holds the home's lock, exactly
as a live ceremony does), a second run is refused naming it, ``doctor`` and ``ceremony
unfinished`` call it live; after kill -9 they call it stopped, ``ceremony run`` refuses to start
until told to resume or abort it, and ``ceremony resume`` / ``ceremony abort`` end it, each in
the ledger.
"""

from __future__ import annotations

import copy
import json

import pytest

from support.ceremony_workspace import Workspace
from support.crash import cli, stopped_at
from support.prepared import clone, prepared


def _build(ws: Workspace) -> None:
    ws.run_ok("init")
    ws.run_ok("generate-key")


@pytest.fixture
def ws(tmp_path_factory, tmp_path, monkeypatch) -> Workspace:
    return clone(prepared(tmp_path_factory, "init-and-key", _build), tmp_path / "ws", monkeypatch)


def actions(ws: Workspace) -> list[str]:
    with ws.vault() as v:
        return [e.action for e in v.ledger.events()]


def test_a_second_writer_is_refused_and_a_live_ceremony_is_called_live(ws: Workspace):
    first = stopped_at(ws, "journal:quorum:started", "ceremony", "run", "backup", "--script", "backup.toml")
    try:
        second = cli(ws, "ceremony", "run", "sign", "--script", "sign.toml")
        assert second.returncode == 2
        [line] = second.stderr.splitlines()
        assert "HOME_LOCKED" in line and f"pid {first.proc.pid} on host" in line and "(ceremony backup-" in line
        doctor = cli(ws, "doctor")
        assert "is live: running in pid" in doctor.stdout and "crashed" not in doctor.stdout
        listed = json.loads(cli(ws, "ceremony", "unfinished", "--json").stdout)
        assert [(u["name"], u["live"]) for u in listed] == [("backup", True)]
        abort = cli(ws, "ceremony", "abort", listed[0]["ceremony_id"], "--reason", "it looks stuck")
        assert abort.returncode == 2 and "HOME_LOCKED" in abort.stderr  # a live ceremony is never aborted
    finally:
        first.kill()
    doctor = cli(ws, "doctor")
    assert "stopped without finishing (crashed or killed)" in doctor.stdout and "is live" not in doctor.stdout
    listed = json.loads(cli(ws, "ceremony", "unfinished", "--json").stdout)
    assert [(u["name"], u["live"], u["step_id"], u["resumable"]) for u in listed] == [("backup", False, "quorum", True)]


def test_after_a_kill_run_refuses_until_resumed_and_resume_completes(ws: Workspace):
    stopped_at(ws, "journal:backup:started", "ceremony", "run", "backup", "--script", "backup.toml").kill()
    [u] = json.loads(cli(ws, "ceremony", "unfinished", "--json").stdout)
    refused = cli(ws, "ceremony", "run", "backup", "--script", "backup.toml")
    assert refused.returncode == 2
    assert "CEREMONY_UNFINISHED" in refused.stderr and u["ceremony_id"] in refused.stderr
    assert f"custodian ceremony resume {u['ceremony_id']} --script backup.toml" in refused.stderr
    done = cli(ws, "ceremony", "run", "backup", "--script", "backup.toml", "--resume")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ceremony {u['ceremony_id']} completed"
    assert cli(ws, "ceremony", "unfinished").stdout.strip() == "no unfinished ceremony"
    got = actions(ws)
    assert "home.lock_recovered" in got and "ceremony.resumed" in got and got[-1] == "ceremony.completed"
    assert (ws.root / "media" / "backup-1.ccb").is_file()
    assert cli(ws, "ledger", "verify").returncode == 0


def test_abort_from_the_command_line_and_from_the_script(ws: Workspace):
    stopped_at(ws, "journal:quorum:started", "ceremony", "run", "sign", "--script", "sign.toml").kill()
    [u] = json.loads(cli(ws, "ceremony", "unfinished", "--json").stdout)
    aborted = cli(ws, "ceremony", "abort", u["ceremony_id"], "--reason", "power cut in the room")
    assert aborted.returncode == 0, aborted.stderr
    assert cli(ws, "ceremony", "unfinished").stdout.strip() == "no unfinished ceremony"
    with ws.vault() as v:
        c = v.store.get_ceremony(u["ceremony_id"])
        assert (c.status.value, c.abort_reason) == ("aborted", "INTERRUPTED: power cut in the room")
    # a script that says what to do with an unfinished ceremony: abort it, then run
    stopped_at(ws, "journal:quorum:started", "ceremony", "run", "sign", "--script", "sign.toml").kill()
    script = ws.root / "sign-after-crash.toml"
    script.write_text((ws.root / "sign.toml").read_text().replace(
        '[defaults]', '[unfinished]\nabort = "the first attempt was killed"\n\n[defaults]'))
    done = cli(ws, "ceremony", "run", "sign", "--script", str(script))
    assert done.returncode == 0, done.stderr
    with ws.vault() as v:
        aborted = [e for e in v.ledger.events() if e.action == "ceremony.aborted"]
        assert aborted[-1].details["reason"] == "the first attempt was killed" and aborted[-1].details["after_crash"]
    assert cli(ws, "ledger", "verify").returncode == 0


def test_a_bad_unfinished_table_in_a_script_is_refused(ws: Workspace):
    script = ws.root / "bad.toml"
    script.write_text((ws.root / "sign.toml").read_text().replace('[defaults]', '[unfinished]\nabort = ""\n\n[defaults]'))
    done = cli(ws, "ceremony", "run", "sign", "--script", str(script))
    assert done.returncode == 2 and "key 'unfinished'" in done.stderr


def test_an_unknown_id_is_named_with_the_listing_command(ws: Workspace, capsys):
    from console.cli import main

    for argv in (["ceremony", "abort", "backup-nope", "--reason", "typo"],
                 ["ceremony", "resume", "backup-nope", "--script", "backup.toml"]):
        assert main(["--home", str(ws.home), *argv]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert "No ceremony with id 'backup-nope'" in line and "`custodian ceremony unfinished` lists" in line


def test_a_ceremony_resumed_at_its_attestations_is_sealed_by_the_round_that_completed(ws: Workspace):
    """Seen in the lead's tmux walk: after a resume at the attest step the summary's seal was the
    first, interrupted round's closing head, which the completing round's attestations did not sign.
    Killed for real after the first attestation, then resumed: the transcript's closing head is
    the last ceremony.closing, every attestation of the completing round names it, and the
    transcript still verifies."""
    from vault.ceremony import transcript

    stopped_at(ws, "attest:attested:1", "ceremony", "run", "sign", "--script", "sign.toml").kill()
    [u] = json.loads(cli(ws, "ceremony", "unfinished", "--json").stdout)
    done = cli(ws, "ceremony", "resume", u["ceremony_id"], "--script", "sign.toml")
    assert done.returncode == 0, done.stderr
    with ws.vault() as v:
        t = transcript.build(v, u["ceremony_id"])
        closings = [e for e in t["ledger"]["events"]
                    if e["ceremony_id"] == u["ceremony_id"] and e["action"] == "ceremony.closing"]
        rounds = [json.loads(e["details"])["closing_head"] for e in t["ledger"]["events"]
                  if e["ceremony_id"] == u["ceremony_id"] and e["action"] == "ceremony.attested"]
    assert len(closings) == 2 and t["ledger"]["closing"]["hash"] == closings[-1]["hash"]
    assert rounds[0] == closings[0]["hash"] and set(rounds[1:]) == {closings[-1]["hash"]}
    report = transcript.verify(t)
    assert report.ok, report.problems
    # A careful forger drops the completing round's last attestation and its ledger event, renumbers
    # the events after it and recomputes every unkeyed value: every remaining signature still holds,
    # so only the rule that the last closing carries every participant's attestation catches it.
    from support.transcript_forge import reseal

    assert transcript.verify(reseal(copy.deepcopy(t))).ok  # resealing alone changes nothing
    forged = copy.deepcopy(t)
    dropped = forged["attestations"].pop()
    events = forged["ledger"]["events"]
    cut = next(i for i, e in reversed(list(enumerate(events))) if e["action"] == "ceremony.attested"
               and json.loads(e["details"])["participant"] == dropped["participant"])
    del events[cut]
    for e in events[cut:]:
        e["seq"] -= 1
    report = transcript.verify(reseal(forged))
    assert report.problems == [f"the closing head (seq {closings[-1]['seq']}) lacks the attestation of "
                               f"{dropped['participant']}"]
    # A participant who holds their own key signs a statement over another head of this ceremony
    # (its start: "agreeing" to a shorter history); the signature is genuine, the head is no closing.
    from support.ceremony_workspace import passphrase
    from vault.ceremony.witness import enrollment_of
    from vault.identity import unlock
    from vault.secret import Secret

    liar = copy.deepcopy(t)
    a = liar["attestations"][-1]
    other = next(e for e in liar["ledger"]["events"] if e["action"] == "ceremony.started"
                 and e["ceremony_id"] == u["ceremony_id"])
    a["statement"] = a["statement"].replace(closings[-1]["hash"], other["hash"])
    with ws.vault() as v, unlock(enrollment_of(v.store.get_custodian(a["participant"])),
                                 Secret(passphrase(a["participant"]), kind="passphrase")) as signer:
        a["signature_hex"] = signer.sign(a["statement"].encode()).hex()
    problems = transcript.verify(reseal(liar)).problems
    assert f"attestation of {a['participant']}: does not sign a closing ledger head of this ceremony" in problems
