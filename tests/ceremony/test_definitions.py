"""Ceremony definitions are parsed strictly: file, line and key in every message."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.ceremony.definitions import load_catalogue, load_catalogue_report, parse_definition
from vault.errors import DefinitionInvalid

GOOD = '''format = 1
name = "demo"
title = "Demo"
purpose = "A demo."
roles = ["administrator"]
quorum = "none"

[[step]]
id = "room"
kind = "checklist"
title = "Room"
[step.params]
items = ["a"]

[[step]]
id = "done"
kind = "confirm"
title = "Done"
witness = true
[step.params]
question = "Done?"
'''


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def test_every_builtin_definition_parses():
    catalogue = load_catalogue()
    assert {"init", "generate-key", "backup", "restore", "drill", "rotate", "destroy", "reshare", "compromise",
            "sign"} <= set(catalogue)
    for d in catalogue.values():
        assert d.steps[0].kind == "environment"
        assert d.steps[-1].kind == "attest"


def test_a_good_definition(tmp_path):
    d = parse_definition(write(tmp_path, GOOD))
    assert [s.id for s in d.steps] == ["room", "done"]
    assert d.steps[1].witness and d.steps[1].index == 2
    assert d.steps[0].params["items"] == ["a"]


@pytest.mark.parametrize("edit, line, key, problem", [
    (lambda t: t.replace('quorum = "none"', 'quorum = "none"\ncolour = "red"'), 7, "colour", "unknown key"),
    (lambda t: t.replace('title = "Demo"\n', ''), 1, "", "missing required key 'title'"),
    (lambda t: t.replace('format = 1', 'format = "1"'), 1, "format", "must be int"),
    (lambda t: t.replace('kind = "confirm"', 'kind = "confrim"'), 17, "step[2].kind", "unknown step kind"),
    (lambda t: t.replace('witness = true', 'witness = "yes"'), 19, "step[2].witness", "must be bool"),
    (lambda t: t.replace('items = ["a"]', 'items = "a"'), 13, "step[1].params.items", "must be list[str]"),
    (lambda t: t.replace('question = "Done?"', 'qestion = "Done?"'), 21, "step[2].params.qestion", "unknown parameter"),
    (lambda t: t.replace('id = "done"', 'id = "room"'), 16, "step[2].id", "used twice"),
    (lambda t: t.replace('name = "demo"', 'name = "other"'), 2, "name", "must equal the file name"),
    (lambda t: t.replace('roles = ["administrator"]', 'roles = ["janitor"]'), 5, "roles", "not one of"),
])
def test_bad_definitions_name_file_line_and_key(tmp_path, edit, line, key, problem):
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(DefinitionInvalid) as err:
        parse_definition(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}:"), msg
    if key:
        assert f"key '{key}'" in msg
    assert problem in msg


def test_a_missing_required_parameter(tmp_path):
    path = write(tmp_path, GOOD.replace('[step.params]\nquestion = "Done?"\n', ''))
    with pytest.raises(DefinitionInvalid, match=r"demo.toml:\d+: key 'step\[2\].params': missing required parameter 'question'"):
        parse_definition(path)


def test_user_definitions_cannot_shadow_builtins(tmp_path):
    (tmp_path / "ceremonies").mkdir()
    write(tmp_path / "ceremonies", GOOD.replace('name = "demo"', 'name = "init"'), "init")
    report = load_catalogue_report(tmp_path)
    [broken] = report.broken
    assert broken.name == "init" and "built-in ceremony name" in str(broken.error)
    assert report.definitions["init"].builtin  # the built-in one still runs
    assert load_catalogue(tmp_path)["init"].builtin
