"""Files read whole are read only as far as such a file can go (vault.inputs).

``/dev/zero`` (or a pipe that never ends, or a disk image given by mistake) as a transcript,
pinned keys, script, payload, signature or share file is one line naming the file and the
limit, exit 2, not a machine whose memory ran out. The commands run as a person runs them (the
installed ``custodian``), under a 1.5 GiB address-space limit: were a read unbounded again, the
child would fail with MemoryError (exit 3), not take the test machine down.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vault.inputs import InputTooLarge, read_bounded

CUSTODIAN = str(Path(sys.executable).with_name("custodian"))
ADDRESS_SPACE = 1536 * 1024 * 1024


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("inputs")
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    (root / "key.pem").write_bytes(key.public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    (root / "payload.txt").write_text("a payload\n")
    (root / "payload.sig").write_bytes(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    (root / "t.json").write_text("{}")
    done = subprocess.run([CUSTODIAN, "--home", str(root / "home"), "home", "init"], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return {"key": str(root / "key.pem"), "payload": str(root / "payload.txt"), "signature": str(root / "payload.sig"),
            "transcript": str(root / "t.json"), "home": str(root / "home")}


CASES = {
    "transcript": (["transcript", "verify", "/dev/zero"], "TRANSCRIPT_UNREADABLE", "more than 64 MiB"),
    "pinned keys": (["transcript", "verify", "{transcript}", "--pinned-keys", "/dev/zero"], "PINNED_KEYS", "more than 1 MiB"),
    "script": (["--home", "{home}", "ceremony", "run", "sign", "--script", "/dev/zero"], "ceremony sign: SCRIPT",
               "more than 1 MiB"),  # ceremony commands name the ceremony first
    "payload": (["verify", "--public-key", "{key}", "--payload", "/dev/zero", "--signature", "{signature}"],
                "PAYLOAD_UNREADABLE", "larger than 268435456 bytes"),
    "signature": (["verify", "--public-key", "{key}", "--payload", "{payload}", "--signature", "/dev/zero"],
                  "PAYLOAD_UNREADABLE", "no signature is that long"),
    "share file": (["backup", "verify", "{transcript}", "--share", "file:/dev/zero"], "USAGE", "more than 64 KiB"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_endless_input_is_refused_in_one_line(files, case):
    argv, code, words = CASES[case]
    argv = [a.format(**files) for a in argv]
    done = subprocess.run([CUSTODIAN, *argv], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          preexec_fn=_limited)
    assert "Traceback" not in done.stderr and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert done.returncode == 2, line
    assert line.startswith(f"error: {code}: ") and "/dev/zero" in line and words in line and " Next: " in line, line


def test_read_bounded_reads_up_to_the_limit_and_refuses_one_byte_more(tmp_path):
    exact, over = tmp_path / "exact", tmp_path / "over"
    exact.write_bytes(b"x" * 3000)
    over.write_bytes(b"x" * 3001)
    assert read_bounded(exact, 3000) == b"x" * 3000
    with pytest.raises(InputTooLarge) as caught:
        read_bounded(over, 3000)
    assert caught.value.filename == str(over) and "more than 3000 bytes" in caught.value.strerror
    with pytest.raises(IsADirectoryError):
        read_bounded(tmp_path, 10)


_READERS = """
import sys
from pathlib import Path
from vault.errors import VaultError
from vault.operations.transport import _read_signed
from vault.pki.cross import read_other_root
from vault.pki.csr import read_csr
from vault.pki.profile import parse_profile

for name, read in (("csr", read_csr), ("other root", read_other_root), ("profile", parse_profile),
                   ("transport file", lambda p: _read_signed(p, "transport-request"))):
    try:
        read(Path("/dev/zero"))
    except VaultError as exc:
        print(name, exc.code, "|", exc.message)
"""


def test_the_ceremonies_input_files_are_bounded_too():
    """A CSR, another root's certificate, a certificate profile and a transport file, each /dev/zero."""
    done = subprocess.run([sys.executable, "-c", _READERS], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, preexec_fn=_limited)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = dict(line.split(" | ", 1)[0].rsplit(" ", 1) for line in done.stdout.splitlines())
    assert lines == {"csr": "PKI_CSR_INVALID", "other root": "PKI_CSR_INVALID", "profile": "PKI_PROFILE_INVALID",
                     "transport file": "TRANSPORT_REFUSED"}, \
        done.stdout
