"""Identity of what runs: the console's version and the SHA-256 of its installed files.

``package_sha256`` is reproducible by anyone with the installed files and coreutils: the
SHA-256 of ``sha256sum``'s output over every file of the ``vault`` and ``console`` packages
(``__pycache__`` and ``*.pyc`` excluded), paths relative to the directory holding both, sorted
bytewise::

    cd <site-packages or the source tree>
    find vault console -type f ! -path '*/__pycache__/*' ! -name '*.pyc' | LC_ALL=C sort \
        | xargs sha256sum | sha256sum

Each line is ``<64 hex>  <path>\\n`` (two spaces), exactly as sha256sum prints it. The value is
recorded in every ``ceremony.started`` event (``console_version``, ``package_sha256``), printed
on the paper script and shown with the definition's SHA-256 in PGP words, so the room can
compare what runs with what was approved.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from vault import __version__
from vault.pgpwords import words_for

PACKAGES = ("vault", "console")


@dataclass(frozen=True)
class PackageIdentity:
    version: str
    sha256: str
    files: int

    @property
    def words(self) -> str:
        return " ".join(words_for(bytes.fromhex(self.sha256)))


def package_sha256(root: Path) -> tuple[str, int]:
    paths = sorted((p for pkg in PACKAGES for p in (root / pkg).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"),
                   key=lambda p: p.relative_to(root).as_posix().encode("utf-8"))
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
                      for p in paths)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest(), len(paths)


@functools.lru_cache(maxsize=1)
def package_identity() -> PackageIdentity:
    digest, count = package_sha256(Path(__file__).resolve().parent.parent)
    return PackageIdentity(__version__, digest, count)


def words_of(hex_text: str) -> str:
    return " ".join(words_for(bytes.fromhex(hex_text)))
