"""`custodian backup inspect FILE` and `custodian backup verify FILE --share REF ...`, offline:
no console home, no HSM. A damaged line is named even without a key; a line edited with its
unkeyed check recomputed is caught by the MAC; shares of another quorum are named as such."""

from __future__ import annotations

import json
import os

import pytest
from shamir_mnemonic import generate_mnemonics

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from vault.backup.format import encode_line

BUNDLE = "media/after-generate-signer-2026.ccb"
SHARES = ["--share", "file:shares/alice.share", "--share", "file:shares/bob.share", "--share", "file:shares/dave.share"]


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.replay("generate-key")
    monkeypatch.chdir(ws.root)  # share references are relative to the working directory
    return ws.root / BUNDLE


def run(capsys, *argv):
    capsys.readouterr()
    code = custodian(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_inspect_shows_what_the_bundle_claims_without_a_key_or_a_home(bundle, capsys):
    code, out, err = run(capsys, "--home", "/nonexistent", "backup", "inspect", str(bundle), "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    assert data["mac_checked"] is False and data["key_count"] == 1 and data["mode"] == "practice"
    assert [k["label"] for k in data["keys"]] == ["signer-2026"]
    code, out, _ = run(capsys, "backup", "inspect", str(bundle))
    assert code == 0 and "structure OK; the MAC is not checked" in out


def test_verify_with_a_quorum_of_shares(bundle, capsys):
    code, out, err = run(capsys, "backup", "verify", str(bundle), *SHARES)
    assert code == 0 and err == "" and "bundle OK: 1 keys, MAC verified" in out
    assert not os.path.exists("/nonexistent")


def test_a_flipped_byte_is_named_by_its_line_by_both(bundle, capsys):
    data = bytearray(bundle.read_bytes())
    second = data.index(b"\n") + 40
    data[second] ^= 0x01
    bundle.write_bytes(bytes(data))
    for argv in (["backup", "inspect", str(bundle)], ["backup", "verify", str(bundle), *SHARES]):
        code, out, err = run(capsys, *argv)
        [line] = err.splitlines()
        assert code == 1 and out == "" and line.startswith("error: BUNDLE_CORRUPT: ") and "line 2" in line


def test_an_edit_with_its_line_check_recomputed_is_caught_by_the_mac(bundle, capsys):
    lines = bundle.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[1])
    del entry["check"]
    entry["label"] = "signer-2062"
    lines[1] = encode_line(entry)
    bundle.write_bytes(b"".join(lines))
    code, out, _ = run(capsys, "backup", "inspect", str(bundle))
    assert code == 0 and "signer-2062" in out  # unkeyed: inspect cannot tell
    code, out, err = run(capsys, "backup", "verify", str(bundle), *SHARES)
    [line] = err.splitlines()
    assert code == 1 and out == "" and line.startswith("error: BUNDLE_CORRUPT: ") and "MAC" in line


def test_shares_of_another_quorum_are_named_foreign(bundle, capsys, tmp_path):
    other = generate_mnemonics(1, [(2, 3)], os.urandom(32), extendable=True, iteration_exponent=1)[0]
    refs = []
    for i, words in enumerate(other[:2]):
        (tmp_path / f"o{i}.share").write_text(words)
        refs += ["--share", f"file:{tmp_path / f'o{i}.share'}"]
    code, out, err = run(capsys, "backup", "verify", str(bundle), *refs)
    [line] = err.splitlines()
    assert code == 1 and out == "" and line.startswith("error: BUNDLE_FOREIGN: ") and "another quorum" in line


@pytest.mark.parametrize(("argv", "code_word"), [
    (["--share", "file:shares/alice.share"], "QUORUM_INCOMPLETE"),
    (["--share", "file:shares/alice.share", "--share", "file:shares/alice.share",
      "--share", "file:shares/bob.share"], "SHARE_DUPLICATE"),
    (["--share", "alice's words typed here"], "USAGE"),
    (["--share", "file:shares/nobody.share"], "USAGE"),  # a command-line reference, not a script's
    (["--share", "file:/dev/zero"], "USAGE"),  # read at most 64 KiB far, not until memory runs out
    ([], "USAGE"),
])
def test_bad_share_arguments_are_one_line_exit_2(bundle, capsys, argv, code_word):
    code, out, err = run(capsys, "backup", "verify", str(bundle), *argv)
    [line] = err.splitlines()
    assert code == 2 and out == "" and line.startswith(f"error: {code_word}: ") and " Next: " in line
    assert "words typed here" not in line


def test_a_missing_bundle_is_exit_2(bundle, capsys):
    for argv in (["inspect", "media/none.ccb"], ["verify", "media/none.ccb", *SHARES]):
        code, _, err = run(capsys, "backup", *argv)
        [line] = err.splitlines()
        assert code == 2 and line.startswith("error: BUNDLE_UNREADABLE: ")
