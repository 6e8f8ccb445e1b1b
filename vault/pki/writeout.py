"""Writing a certificate or CRL file: once, never over an existing file or through a symlink,
atomically (vault.backup.outfile), and read back before it counts as written."""

from __future__ import annotations

from pathlib import Path

from vault.backup.outfile import write_once_read_back


def write_pem_once(path: Path, data: bytes) -> Path:
    write_once_read_back(path, data, again="run the step again")
    return Path(path)
