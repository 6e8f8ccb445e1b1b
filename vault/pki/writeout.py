"""Writing a certificate or CRL file: once, never over an existing file or through a symlink,
atomically (vault.backup.outfile), and read back before it counts as written."""

from __future__ import annotations

from pathlib import Path

from vault.backup.outfile import WriteOnceFile, output_failed
from vault.errors import OutputWriteFailed


def write_pem_once(path: Path, data: bytes) -> Path:
    path = Path(path)
    out = WriteOnceFile(path)
    try:
        try:
            out.file.write(data)
        except OSError as exc:
            raise output_failed(path, "Writing", exc) from None
        out.publish()
        if path.read_bytes() != data:
            raise OutputWriteFailed(f"Reading back {path} gave other bytes; the file was removed.",
                                    next_step="Check or replace the medium, then run the step again.")
    except BaseException:
        out.discard()
        raise
    return path
