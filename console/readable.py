"""What people read aloud, laid out to be read: hex in groups of four, PGP words in short lines.

A group is never split across lines: groups are separated by spaces and a group has no space
inside, and terminals (Rich) wrap only at spaces. ``group_hex`` rewrites every long hex run in a
text (a fingerprint, a digest, a ledger head) that way, keeping a ``sha256:`` / ``kcv:`` prefix.
"""

from __future__ import annotations

import re

from vault.pgpwords import words_for

_HEX_RUN = re.compile(r"\b((?:sha256|kcv):)?([0-9a-f]{12,})\b")
GROUP = 4


def groups(hex_text: str, size: int = GROUP) -> str:
    return " ".join(hex_text[i:i + size] for i in range(0, len(hex_text), size))


def group_hex(text: str) -> str:
    """Every hex run of 12+ characters in ``text`` as groups of four (``sha256:`` kept)."""
    return _HEX_RUN.sub(lambda m: (m.group(1) or "") + groups(m.group(2)), text)


def pgp_lines(hex_text: str, *, n_bytes: int | None = None, per_line: int = 8) -> list[str]:
    """PGP words of ``hex_text`` (all of it, or the first ``n_bytes``), ``per_line`` to a line, numbered."""
    try:
        data = bytes.fromhex(hex_text.split(":", 1)[-1])
    except ValueError:
        return []
    words = words_for(data[:n_bytes] if n_bytes else data)
    return [f"{i + 1:>2}. " + " ".join(words[i:i + per_line]) for i in range(0, len(words), per_line)]


def fingerprint_block(fingerprint: str, *, n_bytes: int = 8) -> str:
    """A fingerprint to read: grouped hex, then its first ``n_bytes`` as PGP words."""
    words = pgp_lines(fingerprint, n_bytes=n_bytes, per_line=n_bytes)
    return group_hex(fingerprint) + ("\n" + words[0][4:] if words else "")
