"""Write-once output files: temp file in the target folder, fsync, link into place, never overwrite.

``os.link`` fails with ``FileExistsError`` when the target exists, so publishing cannot replace a
file that appeared while we were writing (``os.replace`` would). Filesystems without hard links
(FAT/exFAT removable media) get a fallback: ``O_CREAT | O_EXCL`` on the target and a copy; that
also never overwrites, but is not atomic, which is why callers read the result back.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from vault.errors import OutputExists, OutputWriteFailed

# link(2) errors that mean "this filesystem has no hard links", not "something is wrong".
_NO_HARDLINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def refuse_existing(path: Path) -> None:
    if os.path.lexists(path):
        raise OutputExists(f"{path} already exists and was left unchanged.")


def check_folder(path: Path) -> None:
    if not path.parent.is_dir():
        raise OutputWriteFailed(
            f"The folder {path.parent} does not exist.",
            next_step="Mount the medium or create the folder, then retry.",
        )


def output_failed(path: Path, what: str, err: OSError | None = None) -> OutputWriteFailed:
    reason = f" ({err.strerror or err})" if err is not None else ""
    return OutputWriteFailed(f"{what} {path} failed{reason}; nothing was left at that path.")


class WriteOnceFile:
    """A temp file beside ``path``; ``publish()`` links it into place, ``discard()`` removes it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        refuse_existing(self.path)
        check_folder(self.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent)
        except OSError as e:
            raise output_failed(self.path, "Creating a temporary file for", e) from None
        self.tmp = Path(tmp)
        self.file: BinaryIO = os.fdopen(fd, "wb")
        self._published_inode: tuple[int, int] | None = None

    def publish(self) -> None:
        """fsync, close, then link into place only if ``path`` still does not exist."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            st = os.stat(self.tmp)
        except OSError as e:
            raise output_failed(self.path, "Writing", e) from None
        try:
            os.link(self.tmp, self.path)
            self._published_inode = (st.st_dev, st.st_ino)
        except FileExistsError:
            raise OutputExists(f"{self.path} appeared while the file was being written; it was left unchanged.") from None
        except OSError as e:
            if e.errno not in _NO_HARDLINKS:
                raise output_failed(self.path, "Linking the finished file to", e) from None
            self._copy_exclusive()
        _unlink_quietly(self.tmp)
        _fsync_dir(self.path.parent)

    def _copy_exclusive(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise OutputExists(f"{self.path} appeared while the file was being written; it was left unchanged.") from None
        except OSError as e:
            raise output_failed(self.path, "Creating", e) from None
        st = os.fstat(fd)
        self._published_inode = (st.st_dev, st.st_ino)
        try:
            with os.fdopen(fd, "wb") as out, open(self.tmp, "rb") as src:
                while chunk := src.read(1 << 16):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:
            self.remove_published()
            raise output_failed(self.path, "Copying the finished file to", e) from None

    def remove_published(self) -> None:
        """Remove the published file, but only if it is still the one we created."""
        if self._published_inode is None:
            return
        try:
            st = os.lstat(self.path)
            if (st.st_dev, st.st_ino) == self._published_inode:
                os.unlink(self.path)
        except OSError:
            pass
        self._published_inode = None

    def discard(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        _unlink_quietly(self.tmp)
        self.remove_published()


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (vfat) refuse fsync on a directory; the file itself is synced
    finally:
        os.close(fd)
