"""Write-once output files: never overwrite, never through a symbolic link, atomically, 0600.

Every file the console writes for people to carry away (bundles, signatures, share files,
transcripts, recorded scripts) goes through here:

* ``check_output_path(path)`` refuses, before any work, a path that exists (``OutputExists``),
  one whose last component is a symbolic link, dangling or not, or whose folder is reached
  through one (``OutputPathUnsafe``, naming the link), and a folder that does not exist.
* The folder is opened component by component from ``/`` with ``O_NOFOLLOW`` and every file
  is created relative to that folder descriptor, so a link swapped in after the check is not
  followed either (the check and the write look at the same directory).
* ``WriteOnceFile`` writes a ``.NAME.XXXX.partial`` temp file (``O_CREAT|O_EXCL|O_NOFOLLOW``,
  0600) beside the target, fsyncs it and links it into place with ``linkat``, which fails when
  the target exists: publishing cannot replace a file that appeared meanwhile. Filesystems
  without hard links (FAT/exFAT media) get ``O_EXCL`` on the target and a copy (callers read the
  result back). Every failure path removes the temp file.
* A crash can leave a temp file. While it is written, the writer holds an ``flock`` on it and a
  marker in the vault's ``pending-outputs/`` (``track_pending_outputs``); ``pending_outputs()``
  lists the ones whose writer is gone (`custodian doctor` names them), and the next write of the
  same output removes them.
* ``write_new_file(path, data)`` is the same for a small file written in one go (share files).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vault.errors import OutputExists, OutputPathUnsafe, OutputWriteFailed

# link(2) errors that mean "this filesystem has no hard links", not "something is wrong".
_NO_HARDLINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}
_DIR_FLAGS = os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_PATH", os.O_RDONLY)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
PARTIAL_SUFFIX = ".partial"

_pending_dir: Path | None = None  # set by the opened vault: HOME/pending-outputs


def absolute(path: Path | str) -> Path:
    """``path`` made absolute without following links (``Path.resolve`` would hide them)."""
    return Path(os.path.abspath(os.fspath(path)))


# --- checks -----------------------------------------------------------------------------------
def refuse_existing(path: Path) -> None:
    """``OutputExists`` for anything at ``path``; a symbolic link there is ``OutputPathUnsafe``."""
    path = Path(path)
    if os.path.islink(path):
        raise OutputPathUnsafe(f"{path} is a symbolic link{_target(path)}; an output is never written "
                               "through a link, so it was left unchanged.")
    if os.path.lexists(path):
        raise OutputExists(f"{path} already exists and was left unchanged.")


def _target(link: Path) -> str:
    try:
        return f" (to {os.readlink(link)})"
    except OSError:
        return ""


def check_folder(path: Path) -> None:
    """The folder of ``path`` exists and is reached without a symbolic link."""
    os.close(open_folder(Path(path)))


def check_output_path(path: Path) -> Path:
    """Every refusal an output can meet, before any work; returns the absolute path."""
    path = absolute(path)
    refuse_existing(path)
    check_folder(path)
    return path


def open_folder(path: Path) -> int:
    """A descriptor of ``path``'s folder, opened one component at a time without following a link."""
    path = absolute(path)
    parts = path.parent.parts
    fd = os.open("/", _DIR_FLAGS)
    walked = Path("/")
    try:
        for part in parts[1:]:
            walked = walked / part
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                raise _folder_error(path, walked, e) from None
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _folder_error(path: Path, walked: Path, e: OSError) -> Exception:
    if os.path.islink(walked):
        return OutputPathUnsafe(f"{path} would be written through the symbolic link {walked}{_target(walked)}; "
                                "an output is never written through a link.",
                                next_step="Give the real directory, without a link in the path.")
    if e.errno in (errno.ENOENT, errno.ENOTDIR):
        return OutputWriteFailed(f"The folder {path.parent} does not exist.",
                                 next_step="Mount the medium or create the folder, then retry.")
    return OutputWriteFailed(f"The folder {path.parent} cannot be used ({e.strerror or e}).",
                             next_step="Check the medium and its permissions, then retry.")


def output_failed(path: Path, what: str, err: OSError | None = None) -> OutputWriteFailed:
    reason = f" ({err.strerror or err})" if err is not None else ""
    return OutputWriteFailed(f"{what} {path} failed{reason}; nothing was left at that path.")


# --- pending (partial) outputs -------------------------------------------------------------------
def track_pending_outputs(directory: Path | None) -> None:
    """Record every output being written in ``directory`` (the vault's ``pending-outputs/``)."""
    global _pending_dir
    _pending_dir = Path(directory) if directory is not None else None


@dataclass(frozen=True, slots=True)
class PendingOutput:
    """A temp file a writer that is gone (a crash) left beside its target."""

    partial: Path
    target: Path
    started_at: str


def pending_outputs(directory: Path | None = None) -> list[PendingOutput]:
    """Partial outputs whose writer is gone (read-only: removes nothing)."""
    folder = Path(directory) if directory is not None else _pending_dir
    out: list[PendingOutput] = []
    if folder is None or not folder.is_dir():
        return out
    for marker in sorted(folder.glob("*.json")):
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            partial, target = Path(data["partial"]), Path(data["target"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if os.path.lexists(partial) and not _locked(partial):
            out.append(PendingOutput(partial, target, str(data.get("started_at", ""))))
    return out


def _locked(path: Path) -> bool:
    """Whether a live writer holds ``path`` (its flock)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _sweep_stale(dir_fd: int, name: str) -> None:
    """Remove the temp files of earlier writes of ``name`` whose writer is gone (a crash)."""
    prefix = f".{name}."
    try:
        readable = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)  # an O_PATH fd cannot be listed
        try:
            entries = os.listdir(readable)
        finally:
            os.close(readable)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(PARTIAL_SUFFIX)):
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer: not ours to touch
        try:
            os.unlink(entry, dir_fd=dir_fd)
        except OSError:
            pass
        finally:
            os.close(fd)
    if _pending_dir is not None and _pending_dir.is_dir():
        for marker in _pending_dir.glob("*.json"):
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
                if Path(data["partial"]).name.startswith(prefix) and not os.path.lexists(data["partial"]):
                    marker.unlink()
            except (OSError, ValueError, KeyError, TypeError):
                continue


class _Marker:
    def __init__(self, partial: Path, target: Path) -> None:
        self.path: Path | None = None
        if _pending_dir is None:
            return
        from datetime import datetime, timezone

        try:
            _pending_dir.mkdir(mode=0o700, exist_ok=True)
            path = _pending_dir / f"{secrets.token_hex(8)}.json"
            fd = os.open(path, _NEW_FILE, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"partial": str(partial), "target": str(target), "pid": os.getpid(),
                           "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}, fh)
            self.path = path
        except OSError:
            self.path = None  # best effort: the flock still protects, doctor just cannot name it

    def remove(self) -> None:
        if self.path is not None:
            try:
                self.path.unlink()
            except OSError:
                pass
            self.path = None


# --- writing ----------------------------------------------------------------------------------------
class WriteOnceFile:
    """A temp file beside ``path``; ``publish()`` links it into place, ``discard()`` removes it."""

    def __init__(self, path: Path) -> None:
        self.path = absolute(path)
        refuse_existing(self.path)
        self._dir = open_folder(self.path)
        self._name = self.path.name
        self._published_inode: tuple[int, int] | None = None
        try:
            _sweep_stale(self._dir, self._name)
            self._tmp_name = f".{self._name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"
            try:
                fd = os.open(self._tmp_name, _NEW_FILE, 0o600, dir_fd=self._dir)
            except OSError as e:
                raise output_failed(self.path, "Creating a temporary file for", e) from None
            fcntl.flock(fd, fcntl.LOCK_EX)  # held until closed: a live write is never swept
            self.file: BinaryIO = os.fdopen(fd, "wb")
        except BaseException:
            os.close(self._dir)
            raise
        self.tmp = self.path.with_name(self._tmp_name)
        self._marker = _Marker(self.tmp, self.path)

    def publish(self) -> None:
        """fsync, link into place only if ``path`` still does not exist, then close."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            st = os.fstat(self.file.fileno())
        except OSError as e:
            raise output_failed(self.path, "Writing", e) from None
        try:
            os.link(self._tmp_name, self._name, src_dir_fd=self._dir, dst_dir_fd=self._dir, follow_symlinks=False)
            self._published_inode = (st.st_dev, st.st_ino)
        except FileExistsError:
            raise OutputExists(f"{self.path} appeared while the file was being written; it was left unchanged.") from None
        except OSError as e:
            if e.errno not in _NO_HARDLINKS:
                raise output_failed(self.path, "Linking the finished file to", e) from None
            self._copy_exclusive()
        self._remove_tmp()
        self._fsync_dir()
        self._close()

    def _copy_exclusive(self) -> None:
        try:
            fd = os.open(self._name, _NEW_FILE, 0o600, dir_fd=self._dir)
        except FileExistsError:
            raise OutputExists(f"{self.path} appeared while the file was being written; it was left unchanged.") from None
        except OSError as e:
            raise output_failed(self.path, "Creating", e) from None
        st = os.fstat(fd)
        self._published_inode = (st.st_dev, st.st_ino)
        try:
            with os.fdopen(fd, "wb") as out, open(self._tmp_name, "rb", opener=self._opener) as src:
                while chunk := src.read(1 << 16):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as e:
            self.remove_published()
            raise output_failed(self.path, "Copying the finished file to", e) from None

    def _opener(self, name: str, flags: int) -> int:
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=self._dir)

    def remove_published(self) -> None:
        """Remove the published file, but only if it is still the one we created."""
        if self._published_inode is None:
            return
        try:
            if self._dir < 0:
                st = os.lstat(self.path)
                if (st.st_dev, st.st_ino) == self._published_inode:
                    os.unlink(self.path)
            else:
                st = os.stat(self._name, dir_fd=self._dir, follow_symlinks=False)
                if (st.st_dev, st.st_ino) == self._published_inode:
                    os.unlink(self._name, dir_fd=self._dir)
        except OSError:
            pass
        self._published_inode = None

    def discard(self) -> None:
        """Remove the temp file (and the published file, if this write published it)."""
        try:
            self.file.close()
        except OSError:
            pass
        self._remove_tmp()
        self.remove_published()
        self._close()

    def _remove_tmp(self) -> None:
        if self._dir >= 0:
            try:
                os.unlink(self._tmp_name, dir_fd=self._dir)
            except FileNotFoundError:
                pass
            except OSError:
                _unlink_quietly(self.tmp)
        self._marker.remove()

    def _fsync_dir(self) -> None:
        try:
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=self._dir)
        except (OSError, TypeError):
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # some filesystems (vfat) refuse fsync on a directory; the file itself is synced
        finally:
            os.close(fd)

    def _close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass
        if self._dir >= 0:
            os.close(self._dir)
            self._dir = -1


def write_new_file(path: Path, data: bytes) -> Path:
    """Create ``path`` (0600, never overwriting, never through a link) holding ``data``, fsynced.

    For small files written in one go (a share file): no temp file, so nothing is left to sweep;
    a failure after the file was created removes it.
    """
    path = absolute(path)
    refuse_existing(path)
    dir_fd = open_folder(path)
    try:
        try:
            fd = os.open(path.name, _NEW_FILE, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            raise OutputExists(f"{path} already exists and was left unchanged.") from None
        except OSError as e:
            if os.path.islink(path):
                refuse_existing(path)
            raise output_failed(path, "Creating", e) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            try:
                os.unlink(path.name, dir_fd=dir_fd)
            except OSError:
                pass
            raise output_failed(path, "Writing", e) from None
    finally:
        os.close(dir_fd)
    return path


def write_once_read_back(path: Path | str, data: bytes, *, again: str) -> Path:
    """Publish ``data`` at ``path`` through a :class:`WriteOnceFile` and read it back.

    A medium that returns other bytes than were written (a failing card, a full stick that lies)
    gets the file removed and OUTPUT_WRITE_FAILED; ``again`` ends the next step ("export again").
    Returns the resolved path.
    """
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
                                    next_step=f"Check or replace the medium, then {again}.")
    except BaseException:
        out.discard()
        raise
    return path.resolve()


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
