"""Every command fails cleanly: one line ``error: CODE: message Next: ...`` on stderr, a documented
exit status (1 a verification failed, 2 the command could not run), never a traceback, and
nothing created by a command that only reads.

Most cases run in-process through ``console.cli.main``; ``test_the_real_entry_point_...`` runs
the installed ``custodian`` script as a subprocess to show the same from the outside.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from console.cli import main as custodian
from support.ceremony_workspace import REPO, Workspace

READ_ONLY = [
    ["doctor"],
    ["doctor", "--json"],
    ["keys", "list"],
    ["keys", "list", "--json"],
    ["custodians", "list"],
    ["ledger", "verify"],
    ["transcript", "init-20260101-000000-abcd"],
    ["ceremony", "list"],
    ["ceremony", "show", "init"],
    ["ceremony", "run", "init", "--script", "init.toml"],
]


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return Workspace(tmp_path / "ws", monkeypatch)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = custodian(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, code: str) -> str:
    """The single stderr line, in the documented shape, with ``code``."""
    assert "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith(f"error: {code}: ") and " Next: " in line, line
    return line


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# --- a home that does not exist: refused, nothing created ------------------------------------------
@pytest.mark.parametrize("argv", READ_ONLY, ids=[" ".join(a) for a in READ_ONLY])
def test_a_missing_home_is_refused_and_nothing_is_created(tmp_path, capsys, argv):
    home = tmp_path / "typo-home"
    code, out, err = run(capsys, "--home", str(home), *argv)
    assert code == 2 and out == ""
    line = one_line(err, "NO_VAULT")
    assert f"No vault at {home}; create one with `custodian home init` (or open the console)." in line
    assert not home.exists() and tree(tmp_path) == []


def test_only_home_init_creates_a_home(tmp_path, capsys):
    home = tmp_path / "new"
    code, out, err = run(capsys, "home", "init", "--home", str(home))
    assert code == 0 and out.startswith(f"practice home ready at {home}"), err
    assert (home / "custodian.toml").is_file()
    code, _, err = run(capsys, "--home", str(home), "home", "init")
    assert code == 2 and "already is a console home; nothing was changed" in one_line(err, "HOME")


# --- --home naming something that cannot be a home ----------------------------------------------------
@pytest.fixture
def unwritable_dir(tmp_path):
    """A directory this process cannot write. Root writes through any mode bits, so as root the
    directory is made immutable (chattr +i) instead."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
            pytest.skip("cannot make a directory unwritable for root here (chattr +i refused)")
        yield locked
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    else:
        locked.chmod(0o555)
        yield locked
        locked.chmod(0o755)


def test_home_in_an_unwritable_directory(unwritable_dir: Path, capsys):
    cases = [(unwritable_dir / "h", ["home", "init"], "HOME", "cannot be created ("),
             (unwritable_dir, ["home", "init"], "HOME", "cannot be created ("),
             (unwritable_dir / "h", ["doctor"], "NO_VAULT", "No vault at"),
             (unwritable_dir, ["keys", "list"], "NO_VAULT", "No vault at"),
             (unwritable_dir / "h", ["ceremony", "run", "init", "--script", "x.toml"], "NO_VAULT", "No vault at")]
    for home, argv, code, words in cases:
        status, out, err = run(capsys, "--home", str(home), *argv)
        assert status == 2 and out == "", (argv, err)
        assert words in one_line(err, code), argv
    assert tree(unwritable_dir) == []


# --- global options anywhere ---------------------------------------------------------------------------
def test_global_options_before_or_after_the_command(ws: Workspace, capsys):
    ws.run_ok("init")
    home = str(ws.home)
    assert run(capsys, "--home", home, "doctor")[0] == 0
    code, out, err = run(capsys, "doctor", "--home", home)
    assert code == 0 and f"home {home}" in out, err
    before = run(capsys, "--home", home, "keys", "list", "--json")
    after = run(capsys, "keys", "list", "--home", home, "--json")
    middle = run(capsys, "keys", "--home", home, "list", "--json")
    assert before == after == middle and before[0] == 0
    assert json.loads(after[1]) == []
    # the value given last wins
    code, out, _ = run(capsys, "--home", str(ws.root / "elsewhere"), "custodians", "list", "--home", home, "--json")
    assert code == 0 and {c["name"] for c in json.loads(out)} >= {"alice", "admin"}
    assert not (ws.root / "elsewhere").exists()


# --- custodian verify ---------------------------------------------------------------------------------
@pytest.fixture
def signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"a payload to sign\n")
    sig = tmp_path / "payload.sig"
    sig.write_bytes(key.sign(payload.read_bytes(), ec.ECDSA(hashes.SHA256())))
    pem = tmp_path / "key.pem"
    pem.write_bytes(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    der = tmp_path / "key.der"
    der.write_bytes(pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return tmp_path, pem, der, payload, sig


def test_verify_accepts_a_der_key_as_well_as_pem(signed, capsys):
    _, pem, der, payload, sig = signed
    for key in (pem, der):
        code, out, err = run(capsys, "verify", "--public-key", str(key), "--payload", str(payload), "--signature", str(sig))
        assert (code, out, err) == (0, "signature OK\n", "")


def test_verify_refuses_a_binary_or_missing_key_file_in_one_line(signed, capsys):
    root, _, _, payload, sig = signed
    junk = root / "junk.bin"
    junk.write_bytes(os.urandom(300))
    for key, words in ((junk, "neither a PEM nor a DER public key"), (root / "missing.pem", "Cannot read the public key"),
                       (sig, "payload.sig"),  # the signature given as the key: refused whichever way it parses
                       (root, "Cannot read the public key")):
        code, out, err = run(capsys, "verify", "--public-key", str(key), "--payload", str(payload), "--signature", str(sig))
        assert code == 2 and out == "" and words in one_line(err, "PUBLIC_KEY")
    code, _, err = run(capsys, "verify", "--public-key", str(root / "key.pem"), "--payload", str(root / "nope"),
                       "--signature", str(sig))
    assert code == 2 and "Cannot read the payload" in one_line(err, "PAYLOAD_UNREADABLE")
    code, _, err = run(capsys, "verify", "--public-key", str(root / "key.pem"), "--payload", str(payload),
                       "--signature", str(root / "nope"))
    assert code == 2 and "Cannot read the signature" in one_line(err, "PAYLOAD_UNREADABLE")


def test_verify_of_a_wrong_signature_exits_1(signed, capsys):
    root, pem, _, payload, sig = signed
    payload.write_bytes(b"another payload\n")
    code, out, err = run(capsys, "verify", "--public-key", str(pem), "--payload", str(payload), "--signature", str(sig))
    assert code == 1 and out == "" and one_line(err, "SIGNATURE")


# --- transcript verify -----------------------------------------------------------------------------------
def test_transcript_verify_refuses_unusable_files_in_one_line(tmp_path, capsys):
    transcript = tmp_path / "t.json"
    transcript.write_text("{}")
    cases = {
        "missing.json": None,
        "array.json": "[1, 2, 3]",
        "shape.json": json.dumps({"alice": 5}),
        "notpem.json": json.dumps({"alice": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}),
        "binary.json": b"\xff\xfe\x00garbage",
        "notjson.json": "{alice: ",
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        code, out, err = run(capsys, "transcript", "verify", str(transcript), "--pinned-keys", str(path))
        assert code == 2 and out == "", name
        assert str(path) in one_line(err, "PINNED_KEYS"), name
    for content in (None, b"\x89PNG\r\n\x1a\n\x00\xff", "not json"):
        path = tmp_path / "bad-transcript.json"
        path.unlink(missing_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
        code, out, err = run(capsys, "transcript", "verify", str(path))
        assert code == 2 and out == "" and one_line(err, "TRANSCRIPT_UNREADABLE")
    code, _, err = run(capsys, "transcript", "verify")
    assert code == 2 and one_line(err, "USAGE")


# --- scripts and share files that are not UTF-8 ------------------------------------------------------------
def test_a_script_with_non_utf8_bytes_names_the_line(ws: Workspace, capsys):
    ws.run_ok("init")
    text = (ws.root / "backup.toml").read_text()
    for where, mutated in (("comment", text.replace("[answers]", "[answers]  # caf\xe9")),
                           ("value", text + '"backup.path" = "media/caf\xe9.ccb"\n')):
        script = ws.root / f"latin1-{where}.toml"
        script.write_bytes(mutated.encode("latin-1"))
        line_no = next(i for i, line in enumerate(mutated.splitlines(), start=1) if "\xe9" in line)
        code, out, err = run(capsys, "--home", str(ws.home), "ceremony", "run", "backup", "--script", str(script))
        assert code == 2 and out == ""
        assert "Traceback" not in err
        [line] = err.splitlines()
        assert f"SCRIPT: {script}:{line_no}: byte 0xe9" in line and "is not UTF-8 text" in line, line


@pytest.mark.parametrize("content", [b"\xff\xfe" + "alice".encode("utf-16-le"), os.urandom(400)],
                         ids=["utf-16", "random-bytes"])
def test_a_share_file_that_is_not_text_is_named_without_a_traceback(ws: Workspace, capsys, content):
    ws.replay("generate-key")
    (ws.root / "bad").mkdir()
    (ws.root / "bad" / "bob.share").write_bytes(content)
    script = ws.variant("backup", answers={"quorum.share": [{"share": "file:shares/alice.share"},
                                                            {"share": "file:bad/bob.share"},
                                                            {"share": "file:shares/carol.share"}],
                                          "backup.path": "media/never.ccb"})
    code, out, err = run(capsys, "--home", str(ws.home), "ceremony", "run", "backup", "--script", str(script))
    assert code in (1, 2) and "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("error: ") and "file:bad/bob.share" in line and "Next:" in line, line
    assert not (ws.root / "media" / "never.ccb").exists()


# --- names and usage ----------------------------------------------------------------------------------------
def test_an_unknown_ceremony_is_not_a_database_error(ws: Workspace, capsys):
    ws.run_ok("init")
    for argv in (["ceremony", "show", "genrate-key"], ["ceremony", "run", "genrate-key", "--script", "x.toml"]):
        code, _, err = run(capsys, "--home", str(ws.home), *argv)
        assert code == 2
        assert "CEREMONY_UNKNOWN: " in err and "STORE_NOT_FOUND" not in err
        assert "There is no ceremony named 'genrate-key'" in err and "generate-key" in err


def test_an_unknown_ceremony_id_is_not_a_database_error_either(ws: Workspace, capsys):
    ws.run_ok("init")
    for argv in (["transcript", "init-20260101-000000-abcd"], ["ceremony", "abort", "init-nope", "--reason", "typo"],
                 ["ceremony", "resume", "init-nope", "--script", "init.toml"]):
        code, out, err = run(capsys, "--home", str(ws.home), *argv)
        assert code == 2 and out == "" and "STORE_NOT_FOUND" not in err, argv
        assert "CEREMONY_UNKNOWN: No ceremony with id" in err and "`custodian ceremony unfinished` lists" in err, argv


def test_usage_errors_are_one_line_too(capsys):
    for argv in (["--bogus"], ["keys"], ["keys", "lst"], ["verify"], ["ceremony"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and one_line(err, "USAGE"), argv


def test_the_real_entry_point_never_prints_a_traceback(tmp_path):
    """The installed console script, as a person runs it."""
    exe = Path(sys.executable).with_name("custodian")
    cases = [
        ["--home", str(tmp_path / "nope"), "doctor"],
        ["verify", "--public-key", "/dev/null", "--payload", "/dev/null", "--signature", "/dev/null"],
        ["transcript", "verify", "/etc/hostname", "--pinned-keys", str(tmp_path / "missing.json")],
        ["keys"],
    ]
    for argv in cases:
        done = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (argv, done.stderr)
        [line] = done.stderr.splitlines()
        assert line.startswith("error: ") and " Next: " in line
    assert not (tmp_path / "nope").exists()


def test_an_unexpected_exception_is_one_line_with_exit_3(capsys, monkeypatch):
    """The last line of defence: a bug shows its type only (its text was never checked for secrets)."""
    import vault.operations.signing as signing

    def boom(path):
        raise RuntimeError("internal detail that must not be printed")

    monkeypatch.setattr(signing, "read_public_key", boom)
    code, out, err = run(capsys, "verify", "--public-key", "a", "--payload", "b", "--signature", "c")
    assert code == 3 and out == ""
    line = one_line(err, "INTERNAL")
    assert "RuntimeError" in line and "internal detail" not in line


# --- --home naming a file, a path under /proc, nothing at all ----------------------------------------------
def test_home_naming_a_regular_file_or_a_path_under_proc(tmp_path, capsys):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a home")
    cases = [(afile, ["doctor"], "NO_VAULT", "it is a file, not a console home directory"),
             (afile, ["home", "init"], "HOME", "is a file, not a directory"),
             (afile / "sub", ["home", "init"], "HOME", "cannot be created (Not a directory)"),
             (Path("/proc/self/custodian-home"), ["home", "init"], "HOME", "cannot be created ("),
             (Path("/proc/sys/kernel"), ["home", "init"], "HOME", "exists and is not empty, but has no custodian.toml"),
             (Path("/proc"), ["keys", "list"], "NO_VAULT", "No vault at /proc;"),
             (Path("/proc/self/status"), ["ledger", "verify"], "NO_VAULT", "it is a file")]
    for home, argv, code, words in cases:
        status, out, err = run(capsys, "--home", str(home), *argv)
        assert status == 2 and out == "", (home, argv, err)
        assert words in one_line(err, code), (home, argv)
    assert afile.read_text() == "not a home" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_empty_home_is_a_usage_error_not_the_default_home(tmp_path, capsys, monkeypatch):
    """`--home "$TYPO"` with an unset variable must not quietly mean the default home."""
    monkeypatch.setenv("CUSTODIAN_HOME", str(tmp_path / "default"))
    for argv in (["--home", "", "home", "init"], ["doctor", "--home", ""], ["--home=", "keys", "list"]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and "--home is empty" in one_line(err, "USAGE"), argv
    assert not (tmp_path / "default").exists()


def test_ctrl_c_is_one_line_with_exit_130(tmp_path):
    """A real SIGINT to the installed script, blocked reading a transcript from a pipe."""
    exe = Path(sys.executable).with_name("custodian")
    child = subprocess.Popen([str(exe), "transcript", "verify", "/dev/stdin"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):  # until it waits on the pipe (the interpreter's own handler is in place)
            try:
                if "pipe" in Path(f"/proc/{child.pid}/wchan").read_text():
                    break
            except OSError:
                pass
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130 and out == ""
    assert "Interrupted (Ctrl-C); nothing further was done." in one_line(err, "INTERRUPTED")
