"""Where custodians meet output paths: a backup bundle, a signature, new share files and a
transcript. A symbolic link (dangling or not) or a folder reached through one is refused in one
line, before the ceremony starts, and nothing is written: not at the link, not at its target.
"""

from __future__ import annotations

import os

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import Workspace


@pytest.fixture
def with_key(ws: Workspace) -> Workspace:
    ws.replay("generate-key")
    (ws.root / "elsewhere").mkdir()
    return ws


def run_refused(ws: Workspace, name: str, script, capsys) -> str:
    before = ws.snapshot()
    capsys.readouterr()
    code = custodian(["--home", str(ws.home), "ceremony", "run", name, "--script", str(script)])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err
    [line] = err.splitlines()
    assert ws.snapshot() == before
    return line


@pytest.mark.parametrize("link", ["dangling", "to-a-file", "through-a-folder"])
def test_a_backup_bundle_is_never_written_through_a_link(with_key: Workspace, capsys, link):
    ws = with_key
    target = ws.root / "elsewhere" / "bundle.ccb"
    if link == "dangling":
        (ws.root / "media" / "out.ccb").symlink_to(target)
        answer = "media/out.ccb"
    elif link == "to-a-file":
        target.write_text("keep")
        (ws.root / "media" / "out.ccb").symlink_to(target)
        answer = "media/out.ccb"
    else:
        (ws.root / "media" / "usb").symlink_to(ws.root / "elsewhere", target_is_directory=True)
        answer = "media/usb/bundle.ccb"
    line = run_refused(ws, "backup", ws.variant("backup", answers={"backup.path": answer}), capsys)
    assert "SCRIPT: " in line and "symbolic link" in line and "Next:" in line
    assert (target.read_text() == "keep") if link == "to-a-file" else not target.exists()
    assert not [p for p in (ws.root / "elsewhere").iterdir() if p.name != "bundle.ccb"]


def test_a_signature_is_never_written_through_a_link(with_key: Workspace, capsys):
    ws = with_key
    (ws.root / "media" / "payload.sig").symlink_to(ws.root / "elsewhere" / "payload.sig")
    line = run_refused(ws, "sign", ws.root / "sign.toml", capsys)
    assert "media/payload.sig is a symbolic link" in line
    assert list((ws.root / "elsewhere").iterdir()) == []


def test_new_shares_are_never_written_through_a_linked_share_dir(ws: Workspace, capsys):
    (ws.root / "elsewhere").mkdir()
    (ws.root / "shares").symlink_to(ws.root / "elsewhere", target_is_directory=True)
    assert custodian(["--home", str(ws.home), "home", "init"]) == 0
    capsys.readouterr()
    assert custodian(["--home", str(ws.home), "ceremony", "run", "init", "--script", str(ws.root / "init.toml")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "SCRIPT: " in line and "key 'share_dir'" in line and "through the symbolic link" in line
    assert list((ws.root / "elsewhere").iterdir()) == []
    with ws.vault() as v:
        assert v.store.list_ceremonies() == []  # refused before the start


def test_the_engine_itself_refuses_a_linked_share_dir(ws: Workspace):
    """Without the script check (a link made after it), the share writer still refuses."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.runner import drive
    from vault.ceremony.script import ScriptResponder, load_script, script_options

    (ws.root / "elsewhere").mkdir()
    (ws.root / "shares").symlink_to(ws.root / "elsewhere", target_is_directory=True)
    with ws.vault() as vault:
        script = load_script(ws.root / "init.toml", find_definition("init"))
        engine = Engine(vault, find_definition("init"), options=script_options(script, kdf_profile="fast-for-tests"))
        outcome = drive(engine, ScriptResponder(script))
    assert not outcome.ok and outcome.code == "OUTPUT_UNSAFE" and "symbolic link" in outcome.message
    assert list((ws.root / "elsewhere").iterdir()) == []


def test_a_transcript_is_written_once_privately_and_never_through_a_link(with_key: Workspace, capsys):
    ws = with_key
    with ws.vault() as v:
        cid = v.store.list_ceremonies()[-1].id
    out = ws.root / "media" / "transcript.json"
    capsys.readouterr()
    assert custodian(["--home", str(ws.home), "transcript", cid, "--format", "json", "--out", str(out)]) == 0
    assert (os.stat(out).st_mode & 0o777) == 0o600
    assert custodian(["transcript", "verify", str(out)]) == 0
    first = out.read_bytes()
    capsys.readouterr()
    assert custodian(["--home", str(ws.home), "transcript", cid, "--out", str(out)]) == 2
    assert "OUTPUT_EXISTS: " in capsys.readouterr().err and out.read_bytes() == first
    link = ws.root / "media" / "t.md"
    link.symlink_to(ws.root / "elsewhere" / "t.md")
    assert custodian(["--home", str(ws.home), "transcript", cid, "--out", str(link)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: OUTPUT_UNSAFE: ") and list((ws.root / "elsewhere").iterdir()) == []
