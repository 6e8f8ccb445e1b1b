"""Scan files for secrets: every place a share, the quorum secret or anything derived from it,
or a custodian passphrase could leak to (the home's database, WAL, config, logs, token files;
bundles; transcripts; recorded scripts).

Build the needles from what a test knows, then scan directories::

    needles = share_needles("alice", mnemonic) + secret_needles("QS", qs_bytes) + text_needles("pass", "...")
    findings = scan([home, media], needles, exclude=[share_dir])
    assert findings == []

Each needle is searched in the raw bytes of every file (SQLite free pages and the WAL included,
so deleted rows count too), and share words also case-insensitively. Binary secrets are looked
for raw, as lower/upper-case hex and as standard and URL-safe base64 (with and without padding).
A finding names the file and what leaked, never the value.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Needle:
    what: str  # e.g. "share of alice (words 5-8)", "QS (hex)"
    data: bytes
    fold_case: bool = False  # compare lower-cased (share words)

    def __repr__(self) -> str:  # never print the value
        return f"<Needle {self.what}>"


@dataclass(frozen=True)
class Finding:
    path: Path
    what: str


def _encodings(what: str, raw: bytes) -> list[Needle]:
    b64 = base64.b64encode(raw)
    url = base64.urlsafe_b64encode(raw)
    forms = {
        f"{what} (raw)": raw,
        f"{what} (hex)": raw.hex().encode(),
        f"{what} (HEX)": raw.hex().upper().encode(),
        f"{what} (base64)": b64,
        f"{what} (base64, unpadded)": b64.rstrip(b"="),
        f"{what} (base64url)": url.rstrip(b"="),
    }
    return [Needle(name, data) for name, data in forms.items()]


def secret_needles(what: str, raw: bytes) -> list[Needle]:
    """A binary secret (QS, KEK, MAC key): raw, hex, base64."""
    if len(raw) < 8:
        raise ValueError("needles shorter than 8 bytes match by chance")
    return _encodings(what, raw)


def text_needles(what: str, text: str) -> list[Needle]:
    """A text secret (a PIN, a passphrase): as typed, and its bytes as hex / base64."""
    raw = text.encode("utf-8")
    if len(raw) < 8:
        raise ValueError("needles shorter than 8 bytes match by chance")
    needles = _encodings(what, raw)
    try:  # the derived PINs are hex text of 16 random bytes: look for those bytes as well
        needles += _encodings(f"{what} bytes", bytes.fromhex(text))
    except ValueError:
        pass
    return needles


def share_needles(owner: str, mnemonic: str, window: int = 4) -> list[Needle]:
    """Every ``window`` consecutive words of a share (case-insensitive), single-space joined."""
    words = mnemonic.lower().split()
    return [Needle(f"share of {owner} (words {i + 1}-{i + window})", " ".join(words[i:i + window]).encode(), True)
            for i in range(len(words) - window + 1)]


def _files(roots: Iterable[Path], exclude: tuple[Path, ...]) -> Iterable[Path]:
    for root in roots:
        root = Path(root)
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            resolved = path.resolve()
            if any(resolved == ex or ex in resolved.parents for ex in exclude):
                continue
            yield path


def scan(roots: Iterable[Path], needles: Iterable[Needle], *, exclude: Iterable[Path] = ()) -> list[Finding]:
    """Every (file, needle) hit under ``roots`` (files or directories), skipping ``exclude``."""
    needles = list(needles)
    excluded = tuple(Path(p).resolve() for p in exclude)
    findings = []
    for path in _files(roots, excluded):
        data = path.read_bytes()
        folded = data.lower()
        for needle in needles:
            if needle.data in (folded if needle.fold_case else data):
                findings.append(Finding(path, needle.what))
    return findings


def scanned_files(roots: Iterable[Path], *, exclude: Iterable[Path] = ()) -> list[Path]:
    """The files ``scan`` would read (tests assert the scan actually covered something)."""
    return list(_files(roots, tuple(Path(p).resolve() for p in exclude)))
