"""Small helpers shared by the operations: input checks, clock, ledger shorthands."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

from vault.errors import LabelInvalid, OutputExists

ACTOR = "console"
_LABEL_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,128}$")


def check_label(label: object) -> str:
    if not isinstance(label, str) or not _LABEL_RE.match(label) or label != label.strip():
        raise LabelInvalid(f"The key label {label!r} is not allowed.")
    return label


def require_reason(reason: object, what: str) -> str:
    """A reason is recorded in the ledger; it must say something."""
    from vault.errors import AnswerInvalid

    if not isinstance(reason, str) or not reason.strip():
        raise AnswerInvalid(f"{what} needs a reason.", next_step="Say why, in a few words; it goes into the ledger.")
    return reason.strip()


def refuse_existing(path: Path) -> None:
    """OutputExists for anything at ``path``; OutputPathUnsafe for a link there (vault.backup.outfile)."""
    from vault.backup.outfile import refuse_existing as refuse

    refuse(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Stopwatch:
    """Wall-clock duration with a monotonic clock (a drill's duration is recorded)."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    @property
    def seconds(self) -> float:
        return round(time.monotonic() - self._start, 3)


def destroy_quietly(session, key) -> bool:
    """Undo a key this operation created; False if the token refused (reconcile will list it)."""
    from vault.errors import VaultError

    try:
        session.destroy(key)
    except VaultError:
        return False
    return True


def pem_to_der(pem: str | None) -> bytes | None:
    """SPKI DER of a PEM public key (None stays None: AES keys have no public half)."""
    if pem is None:
        return None
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(pem.encode("ascii"))
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
