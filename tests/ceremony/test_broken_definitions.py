"""A broken definition file of yours (HOME/ceremonies/) is reported with its file, line and key
by `custodian ceremony list`, `custodian doctor` and the console's launcher, and blocks only
itself: the other files and every built-in ceremony still run."""

from __future__ import annotations

import json

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import Workspace

GOOD = '''format = 1
name = "{name}"
title = "A check of my own"
purpose = "Confirm the room."
roles = ["administrator"]
quorum = "none"

[[step]]
id = "room"
kind = "checklist"
title = "The room"
[step.params]
items = ["Door closed"]
'''

BROKEN = {
    "bad-key": (GOOD.format(name="bad-key").replace('title = "The room"', 'title = "The room"\ncolour = "red"'),
                ":12: key 'step[1].colour': unknown key"),
    "bad-toml": (GOOD.format(name="bad-toml").replace('quorum = "none"', 'quorum = none'), ": not valid TOML"),
    "latin1": (GOOD.format(name="latin1").replace("Confirm", "Confirm\xe9"), ":4: byte 0xe9 at column 19 is not UTF-8"),
    "init": (GOOD.format(name="init"), ":1: key 'name': 'init' is a built-in ceremony name"),
}


@pytest.fixture
def home(ws: Workspace):
    ws.run_ok("init")
    folder = ws.home / "ceremonies"
    folder.mkdir()
    (folder / "mine.toml").write_text(GOOD.format(name="mine"))
    for name, (text, _) in BROKEN.items():
        (folder / f"{name}.toml").write_bytes(text.encode("latin-1"))
    return ws


def test_ceremony_list_names_each_broken_file_and_lists_the_rest(home: Workspace, capsys):
    capsys.readouterr()
    code = custodian(["--home", str(home.home), "ceremony", "list"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    assert any(line.startswith("mine ") and "(yours)" in line for line in lines)
    assert any(line.startswith("backup ") for line in lines) and any(line.startswith("init ") for line in lines)
    for name, (_, where) in BROKEN.items():
        [line] = [line for line in lines if line.startswith(f"{name} ") and "BROKEN" in line]
        assert f"ceremonies/{name}.toml{where}" in line, line
    [summary] = err.splitlines()
    assert summary.startswith("error: DEFINITION: 4 of your definition files cannot be used")


def test_doctor_reports_them_as_warnings_and_the_vault_stays_healthy(home: Workspace, capsys):
    capsys.readouterr()
    assert custodian(["--home", str(home.home), "doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    found = [f for f in report["findings"] if f["area"] == "definitions"]
    assert sorted(f["message"].split(" ", 1)[0] for f in found) == sorted(f"{n}.toml" for n in BROKEN)
    assert {f["severity"] for f in found} == {"warning"}
    assert any(":12: key 'step[1].colour'" in f["message"] for f in found)


def test_the_launcher_shows_them_blocked_and_starts_the_others(home: Workspace):
    from console import views

    with home.vault() as vault:
        entries = {e.name: e for e in views.catalogue(vault)}
    for name, (_, where) in BROKEN.items():
        if name == "init":  # the built-in init keeps its place; the broken file is listed as well
            assert any(e.blocked.startswith("DEFINITION: ") for e in views_catalogue_named(home, "init"))
            continue
        assert entries[name].blocked.startswith("DEFINITION: ") and where in entries[name].blocked
    assert entries["mine"].blocked == "" and entries["backup"].builtin


def views_catalogue_named(home: Workspace, name: str):
    from console import views

    with home.vault() as vault:
        return [e for e in views.catalogue(vault) if e.name == name]


def test_the_others_still_run_and_running_a_broken_one_names_its_error(home: Workspace, capsys):
    home.run_ok("generate-key")  # a built-in ceremony, with four broken files beside it
    script = home.root / "mine-script.toml"
    script.write_text('format = 1\nceremony = "mine"\n[defaults]\nchecklists = "confirm"\n[passphrases]\n'
                      'admin = "env:PASSPHRASE_ADMIN"\n')
    capsys.readouterr()
    assert custodian(["--home", str(home.home), "ceremony", "run", "mine", "--script", str(script)]) == 0
    assert custodian(["--home", str(home.home), "ceremony", "show", "bad-key"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: DEFINITION: ") and "bad-key.toml:12: key 'step[1].colour'" in line
