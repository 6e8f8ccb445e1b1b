"""Output paths: never through a symbolic link, never over a file, no temp file left behind.

Unit checks on vault.backup.outfile, then the same refusals met where custodians meet them:
a backup bundle, a signature, new share files and a transcript, each refused in one line with
nothing written anywhere (not at the link, not at its target). A crash is a real SIGKILL of a
writing process: its ``.partial`` file is named by `custodian doctor` and removed by the next
write of the same output.
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

from vault.backup.outfile import (
    WriteOnceFile,
    check_output_path,
    pending_outputs,
    track_pending_outputs,
    write_new_file,
    write_once_read_back,
)
from vault.errors import OutputExists, OutputPathUnsafe, OutputWriteFailed

REPO = Path(__file__).resolve().parents[2]


def listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.fixture
def media(tmp_path) -> Path:
    d = tmp_path / "media"
    d.mkdir()
    (d / "elsewhere").mkdir()
    return d


WRITERS = {
    "write-once": lambda p: _write_once(p, b"bundle bytes"),
    "small-file": lambda p: write_new_file(p, b"share words\n"),
    "read-back": lambda p: write_once_read_back(p, b"signature bytes", again="sign again"),
}


def _write_once(path: Path, data: bytes) -> None:
    out = WriteOnceFile(path)
    try:
        out.file.write(data)
        out.publish()
    except BaseException:
        out.discard()
        raise


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_dangling_symlink_is_refused_and_its_target_never_created(media, write):
    (media / "out.bin").symlink_to(media / "elsewhere" / "target.bin")
    with pytest.raises(OutputPathUnsafe, match="is a symbolic link"):
        write(media / "out.bin")
    assert not (media / "elsewhere" / "target.bin").exists()
    assert listing(media) == ["elsewhere", "out.bin"] and listing(media / "elsewhere") == []


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_symlink_to_an_existing_file_is_refused_and_the_file_unchanged(media, write):
    victim = media / "elsewhere" / "victim.txt"
    victim.write_text("keep me")
    (media / "out.bin").symlink_to(victim)
    with pytest.raises(OutputPathUnsafe):
        write(media / "out.bin")
    assert victim.read_text() == "keep me"


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_a_path_through_a_symlinked_directory_is_refused(media, write):
    (media / "linked").symlink_to(media / "elsewhere", target_is_directory=True)
    with pytest.raises(OutputPathUnsafe, match=r"through the symbolic link .*linked"):
        write(media / "linked" / "out.bin")
    assert listing(media / "elsewhere") == []


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_an_existing_file_is_never_overwritten(media, write):
    (media / "out.bin").write_text("first")
    with pytest.raises(OutputExists):
        write(media / "out.bin")
    assert (media / "out.bin").read_text() == "first"


@pytest.mark.parametrize("write", WRITERS.values(), ids=WRITERS.keys())
def test_written_files_are_private(media, write):
    write(media / "out.bin")
    assert (os.stat(media / "out.bin").st_mode & 0o777) == 0o600
    assert listing(media) == ["elsewhere", "out.bin"]


def test_a_missing_folder_is_named(media):
    with pytest.raises(OutputWriteFailed, match="does not exist"):
        check_output_path(media / "nope" / "out.bin")


def test_the_folder_checked_is_the_folder_written(media):
    """A link swapped in for the folder after the writer opened it is not followed."""
    real = media / "real"
    real.mkdir()
    out = WriteOnceFile(real / "out.bin")
    real.rename(media / "moved")
    (media / "real").symlink_to(media / "elsewhere", target_is_directory=True)
    out.file.write(b"data")
    out.publish()
    assert listing(media / "elsewhere") == [] and listing(media / "moved") == ["out.bin"]


def test_every_failure_path_removes_the_partial_file(media, monkeypatch):
    out = WriteOnceFile(media / "a.bin")
    out.file.write(b"x")
    out.discard()
    assert listing(media) == ["elsewhere"]

    def no_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", no_fsync)
    with pytest.raises(OutputWriteFailed, match="Input/output error"):
        _write_once(media / "b.bin", b"x")
    assert listing(media) == ["elsewhere"]
    monkeypatch.undo()

    (media / "c.bin").write_text("appeared")
    out = WriteOnceFile(media / "d.bin")
    os.link(media / "c.bin", media / "d.bin")  # someone else's file appears at the target meanwhile
    with pytest.raises(OutputExists, match="appeared while"):
        out.publish()
    out.discard()
    assert listing(media) == ["c.bin", "d.bin", "elsewhere"] and (media / "d.bin").read_text() == "appeared"


def test_a_medium_that_reads_back_other_bytes_loses_the_file(media, monkeypatch):
    # A failing card or a stick that lies about its size: the bytes written are not the bytes read.
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: real_read(self)[:-1] + b"?")
    with pytest.raises(OutputWriteFailed, match="gave other bytes; the file was removed") as refused:
        write_once_read_back(media / "sig.bin", b"signature bytes", again="sign again")
    assert refused.value.next_step == "Check or replace the medium, then sign again."
    assert listing(media) == ["elsewhere"]


def test_a_live_writers_partial_is_left_alone(media):
    first = WriteOnceFile(media / "out.bin")
    second = WriteOnceFile(media / "out.bin")
    assert first.tmp.exists() and second.tmp.exists()
    first.discard()
    second.discard()
    assert listing(media) == ["elsewhere"]


# --- a crash: SIGKILL while writing ------------------------------------------------------------------
_CHILD = """
import sys, time
from pathlib import Path
from vault.vault import Vault
from vault.backup.outfile import WriteOnceFile
vault = Vault.open(Path(sys.argv[1]), create_practice=False)
out = WriteOnceFile(Path(sys.argv[2]))
out.file.write(b"half a bundle")
out.file.flush()
print("writing", flush=True)
time.sleep(60)
"""


def test_a_crash_leaves_a_partial_that_doctor_names_and_the_next_write_removes(tmp_path, media, capsys):
    from console.cli import main as custodian

    home = tmp_path / "home"
    assert custodian(["--home", str(home), "home", "init"]) == 0
    target = media / "backup-1.ccb"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(home), str(target)], stdout=subprocess.PIPE,
                             text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert child.stdout.readline().strip() == "writing"
        [partial] = [p for p in media.iterdir() if p.name.endswith(".partial")]
        assert pending_outputs(home / "pending-outputs") == []  # a live writer's file is not stale
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    [stale] = pending_outputs(home / "pending-outputs")
    assert (stale.partial, stale.target) == (partial, target)

    capsys.readouterr()
    custodian(["--home", str(home), "doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    [finding] = [f for f in report["findings"] if f["area"] == "outputs"]
    assert finding["severity"] == "warning" and str(partial) in finding["message"] and str(target) in finding["message"]

    track_pending_outputs(home / "pending-outputs")
    try:
        _write_once(target, b"the whole bundle")
    finally:
        track_pending_outputs(None)
    assert listing(media) == ["backup-1.ccb", "elsewhere"] and target.read_bytes() == b"the whole bundle"
    assert pending_outputs(home / "pending-outputs") == [] and list((home / "pending-outputs").iterdir()) == []
    custodian(["--home", str(home), "doctor", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert not [f for f in report["findings"] if f["area"] == "outputs"]


def _wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# --- the race the checks cannot close: a link planted after the check, before the open ------------------
@pytest.mark.parametrize("planted", ["symlink", "file"])
def test_what_appears_after_the_check_is_never_written(media, monkeypatch, planted):
    """The open itself is O_CREAT|O_EXCL|O_NOFOLLOW: a symbolic link or a file that appears at the
    output path between the check and the open (planted right after the real check) is refused,
    and neither it nor what a link points at changes. (O_CREAT|O_EXCL alone already refuses a
    link, as POSIX requires, so O_NOFOLLOW here is a second lock no test can tell apart.)"""
    import vault.backup.outfile as outfile

    victim = media / "elsewhere" / "victim"
    victim.write_bytes(b"precious")
    target = media / "share.txt"
    real_refuse = outfile.refuse_existing

    def check_then_race(path):
        real_refuse(path)
        if planted == "symlink":
            os.symlink(victim, path)
        else:
            Path(path).write_bytes(b"precious")

    monkeypatch.setattr(outfile, "refuse_existing", check_then_race)
    with pytest.raises((OutputExists, OutputPathUnsafe)):
        write_new_file(target, b"share words\n")
    assert victim.read_bytes() == b"precious" and target.read_bytes() == b"precious"


def test_a_link_planted_at_the_temp_name_is_never_followed(media, monkeypatch):
    """The temp file beside the output is created O_EXCL|O_NOFOLLOW too: a link waiting under its
    (here predicted) name is refused, and what it points at is not written."""
    import vault.backup.outfile as outfile

    victim = media / "elsewhere" / "victim"
    victim.write_bytes(b"precious")
    monkeypatch.setattr(outfile.secrets, "token_hex", lambda n: "0" * (2 * n))
    os.symlink(victim, media / ".backup.ccb.00000000.partial")
    with pytest.raises(OutputWriteFailed, match="Creating a temporary file"):
        _write_once(media / "backup.ccb", b"bundle bytes")
    assert victim.read_bytes() == b"precious" and not (media / "backup.ccb").exists()
