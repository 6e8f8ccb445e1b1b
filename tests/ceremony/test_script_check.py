"""Scripts are checked before the first step runs (vault.ceremony.script_check).

A script that would fail at step 5 must not have generated a key at step 4: every refusal here
leaves the vault exactly as it was (tables, token objects, files, and the ledger: a script
refused before the start records no ceremony at all), with one line naming file, line and key.
"""

from __future__ import annotations

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from vault.ceremony.kinds import registry
from vault.errors import ScriptInvalid


@pytest.fixture
def with_key(ws: Workspace) -> Workspace:
    ws.replay("generate-key")
    return ws


def refused(ws: Workspace, name: str, script, capsys) -> str:
    """Run through the CLI: exit 2, one line, nothing changed, no ceremony recorded."""
    before = ws.snapshot()
    capsys.readouterr()
    code = custodian(["--home", str(ws.home), "ceremony", "run", name, "--script", str(script)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err, err
    [line] = err.splitlines()
    assert line.startswith(f"error: ceremony {name}: SCRIPT: {script}:") and " Next: " in line, line
    after = ws.snapshot()
    assert after == before, "a refused script changed the vault"
    return line


def line_of(script, text: str) -> int:
    return next(i for i, line in enumerate(script.read_text().splitlines(), start=1) if text in line)


def test_a_number_where_a_path_belongs_is_refused_with_file_line_and_key(with_key: Workspace, capsys):
    ws = with_key
    script = ws.variant("backup", answers={"backup.path": 5})
    line = refused(ws, "backup", script, capsys)
    assert f"{script}:{line_of(script, 'backup.path')}: key 'answers.\"backup.path\"': the number 5 is not a string" in line
    assert not (ws.root / "5").exists() and not (script.parent / "5").exists()


def test_an_answer_to_no_question_is_refused(with_key: Workspace, capsys):
    ws = with_key
    script = ws.variant("backup", answers={"backup.paht": "media/x.ccb"})
    line = refused(ws, "backup", script, capsys)
    assert "step 'backup' (backup) asks no question 'paht' (its questions: path, witness, witness-passphrase)" in line
    script = ws.variant("backup", answers={"bakup.path": "media/x.ccb"})
    assert "naming a step of the ceremony" in refused(ws, "backup", script, capsys)


def test_an_output_the_last_step_needs_is_checked_before_the_key_is_generated(with_key: Workspace, capsys):
    """generate-key then backup: a bad backup path must not leave a generated key behind."""
    ws = with_key
    for answers, words in (({"generate.label": "new-2027", "backup.path": "no-such-medium/b.ccb"}, "does not exist"),
                           ({"generate.label": "new-2027", "backup.path": 2027}, "the number 2027 is not a string"),
                           ({"generate.label": "new-2027", "backup.path": "media/after-generate-signer-2026.ccb"},
                            "already exists")):
        script = ws.variant("generate-key", answers=answers)
        assert words in refused(ws, "generate-key", script, capsys)
    script = ws.variant("generate-key", answers={"generate.label": "new-2027"}, drop=("backup.path",))
    line = refused(ws, "generate-key", script, capsys)
    assert "no answer for 'backup.path', which this ceremony asks at step 5 'backup'" in line


@pytest.mark.parametrize(("answers", "words"), [
    ({"generate.algorithm": "ec-p257"}, "'ec-p257' is not an algorithm offered here"),
    ({"generate.backup": "yes"}, "answer backup or no-backup"),
    ({"generate.backup": "no-backup"}, "no answer for 'generate.no-backup-reason'"),
    ({"generate.label": "signer-2026"}, "a key labelled 'signer-2026' already exists"),
    ({"participants.witness": "walter"}, "'walter' is not an enrolled witness"),
    ({"quorum.share": ["words of alice's share"]}, "a secret is given only by reference"),
    ({"quorum.share": [{"share": "env:NO_SUCH_VARIABLE_FOR_TEST"}]}, "NO_SUCH_VARIABLE_FOR_TEST"),
    ({"quorum.share": [{"share": "file:shares/nobody.share"}]}, "nobody.share"),
    ({"quorum.share": [{"share": "file:shares/alice.share", "who": "alice"}]}, "unknown field(s) who"),
    ({"participants.administrator": True}, "the boolean true is not a string"),
    ({"generate.witness": True}, "is not a table"),
    ({"attest.attest:admin": {"agree": "yes"}}, "agree is true or false"),
], ids=["algorithm", "backup-choice", "no-backup-reason", "label-taken", "witness-name", "plain-share", "unset-env",
        "missing-file", "unknown-field", "bool-for-choice", "bool-for-witness", "attest-shape"])
def test_bad_answers_are_named_before_the_start(with_key: Workspace, capsys, answers, words):
    ws = with_key
    fresh = {"generate.label": "new-2027", "backup.path": "media/new-2027.ccb"}
    script = ws.variant("generate-key", answers={**fresh, **answers})
    assert words in refused(ws, "generate-key", script, capsys)


def test_lifecycle_answers_are_checked_against_the_vault(with_key: Workspace, capsys):
    ws = with_key
    script = ws.variant("rotate", answers={"rotate.key": "signer-2062"})
    assert "there is no key labelled 'signer-2062' (keys: signer-2026)" in refused(ws, "rotate", script, capsys)
    # (an active key may be destroyed: the destroy step deactivates it first; reactivate takes a suspended one)
    script = ws.variant("reactivate", answers={"reactivate.key": "signer-2026"})
    assert "key 'signer-2026' is active; this step takes a key that is suspended" in refused(ws, "reactivate", script,
                                                                                              capsys)
    ws.run_ok("rotate")
    script = ws.variant("destroy", answers={"destroy.confirm-label": "signer-2062"})
    assert "the typed label 'signer-2062' is not the label of the key chosen" in refused(ws, "destroy", script, capsys)


def test_a_missing_attestation_passphrase_stops_before_the_irreversible_step(with_key: Workspace, capsys):
    """Who entered the quorum is known only at run time: the check runs again before generate-key."""
    ws = with_key
    before = ws.snapshot()
    data = ws.example("generate-key")
    del data["passphrases"]["carol"]
    script = ws.variant("generate-key", answers={"generate.label": "new-2027", "backup.path": "media/new-2027.ccb"},
                        passphrases=data["passphrases"])
    result = ws.run("generate-key", script)
    assert not result.ok
    line = result.one_line()
    assert "aborted at step 4 'generate': SCRIPT: " in line and "carol takes part and attests at step 6" in line
    assert "stopped before step 4 'generate', which cannot be undone" in line
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_a_share_file_of_random_bytes_is_refused_before_the_start(with_key: Workspace, capsys):
    ws = with_key
    (ws.root / "bad").mkdir()
    (ws.root / "bad" / "bob.share").write_bytes(bytes(range(128, 256)) * 3)
    script = ws.variant("backup", answers={"quorum.share": [{"share": "file:shares/alice.share"},
                                                            {"share": "file:bad/bob.share"}],
                                          "backup.path": "media/never.ccb"})
    line = refused(ws, "backup", script, capsys)
    assert "(file:bad/bob.share) is not UTF-8 text" in line and "(answer 2 of the list)" in line


def test_every_step_kind_declares_its_questions():
    missing = sorted(name for name, kind in registry().items() if kind.asks is None)
    assert missing == [], f"step kinds without declared asks (vault.ceremony.steps.asks): {missing}"


def test_every_example_script_passes_the_check(ws: Workspace):
    """The examples are checked by their replays too; here, without a vault, every key and shape."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.script import load_script
    from vault.ceremony.script_check import ScriptChecker

    for name in ("init", "generate-key", "sign", "backup", "drill", "rotate", "compromise", "destroy", "reshare"):
        script = load_script(ws.root / f"{name}.toml", find_definition(name))
        checker = ScriptChecker(script, find_definition(name))
        for step in checker.definition.steps:  # answer keys and shapes (paths exist only mid-lifecycle)
            from vault.ceremony.script_check import Plan, asks_of

            asks = asks_of(step, Plan(script, checker.definition))
            for key in script.answers:
                if key.startswith(step.id + "."):
                    from vault.ceremony.script_check import match

                    assert match(asks, key[len(step.id) + 1:]) is not None, (name, key)


def test_a_script_for_another_ceremony_is_refused(with_key: Workspace, capsys):
    ws = with_key
    from vault.ceremony.script import run_script

    with ws.vault() as vault, pytest.raises(ScriptInvalid, match="this script is for 'backup', not 'drill'"):
        run_script(vault, ws.root / "backup.toml", name="drill")
