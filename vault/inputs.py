"""Reading an input file whole, never more than such a file can hold.

A mistaken argument (``/dev/zero``, a disk image, a pipe that never ends) must be one line naming
the file, not a machine whose memory ran out. Every file the console reads whole goes through
``read_bounded``, which reads at most ``limit + 1`` bytes and refuses a longer file. The size from
``stat`` cannot decide this: ``/dev/zero``, ``/proc`` files and pipes report 0.

The refusal is an ``OSError`` (``InputTooLarge``, errno ``EFBIG``) with the file's name, so every
caller's existing "cannot be read (REASON)" message names the file and the limit.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
_CHUNK = 1 * MIB

#: Limits per kind of input (generous: each is far above any real file of its kind).
TOML_BYTES = 1 * MIB  # ceremony scripts and definitions
SECRET_FILE_BYTES = 64 * KIB  # a share (at most 33 words) or a passphrase file
PINNED_KEYS_BYTES = 1 * MIB  # participant name -> public key PEM
TRANSCRIPT_BYTES = 64 * MIB  # a transcript's JSON (an issue-batch of thousands of certificates fits)
SIGNATURE_BYTES = 64 * KIB  # an RSA-4096 signature is 512 bytes
PUBLIC_KEY_BYTES = 64 * KIB  # a PEM RSA-4096 public key is under 1 KiB
TRANSPORT_FILE_BYTES = 64 * MIB  # a transport request or a transport of wrapped keys (JSON)


class InputTooLarge(OSError):
    """The file holds more than ``limit`` bytes (or never ends)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(errno.EFBIG, f"more than {_size(limit)}, which no such file holds", os.fspath(path))
        self.limit = limit


def read_bounded(path: Path | str, limit: int) -> bytes:
    """The bytes of ``path`` (at most ``limit``); ``InputTooLarge`` for a longer file, and the
    ``OSError`` of ``open`` or ``read`` (missing, a directory, no permission) as it is."""
    chunks, total = [], 0
    with open(path, "rb") as fh:
        while total <= limit:  # in chunks: a small file never costs a buffer of ``limit`` bytes
            chunk = fh.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
    raise InputTooLarge(Path(path), limit)


def _size(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB} MiB"
    if n % KIB == 0:
        return f"{n // KIB} KiB"
    return f"{n} bytes"


def read_secret_file(path: Path, ref: str, *, what: str, kind: str, next_step: str):
    """A PIN or passphrase referenced as ``file:`` (``ref``, named in errors), as a Secret: bounded,
    UTF-8, stripped. Errors name the file and the reference, never a value."""
    from vault.errors import ConfigError
    from vault.secret import Secret

    try:
        raw = read_bounded(path, SECRET_FILE_BYTES)
    except OSError as exc:
        raise ConfigError(f"The {what} file {path} ({ref}) cannot be read ({exc.strerror or exc}).",
                          next_step=next_step) from None
    try:
        return Secret(raw.decode("utf-8").strip(), kind)
    except UnicodeDecodeError:
        raise ConfigError(f"The {what} file {path} ({ref}) is not UTF-8 text.",
                          next_step="Write the PIN into the file again as plain text.") from None
