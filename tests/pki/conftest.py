"""PKI tests: a practice vault on a real SoftHSM token with an active quorum (the operations
fixtures), helpers to make keys in it, CSRs with openssl, and to run openssl as the independent
verifier."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from operations.conftest import CEREMONY, kit, practice_vault, quorum, session  # noqa: F401  (fixtures)

OPENSSL = shutil.which("openssl")


def openssl(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    if OPENSSL is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    return subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, check=check)


def openssl_csr(directory: Path, name: str, cn: str, *, key: str = "ec", extra_subject: str = "") -> tuple[Path, Path]:
    """A key and a CSR made by ``openssl req -new`` (EC P-384 or RSA-2048)."""
    key_path, csr_path = directory / f"{name}.key", directory / f"{name}.csr"
    if key == "ec":
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", str(key_path))
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key_path))
    openssl("req", "-new", "-key", str(key_path), "-subj", f"{extra_subject}/CN={cn}", "-out", str(csr_path))
    return key_path, csr_path
