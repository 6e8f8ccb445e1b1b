"""Named, versioned keys: a stable name, versions 1..n, token labels derived from both.

A key is addressed as ``name`` (its newest active version, or when none is active its newest
version) or ``name@N`` (version N). The token label of version 1 is the name itself and of
version N >= 2 ``name-vN``: the rule the console always used for rotations, so keys made
before names existed keep their labels, and a label maps back to exactly one (name, version)
because a name may neither contain ``@`` nor end in ``-v`` and digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vault.errors import LabelInvalid

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,47}$")
_VERSION_SUFFIX = re.compile(r"-v[0-9]+$")


def check_name(name: object) -> str:
    """A key name: 1 to 48 of letters, digits and ``. _ : + -``, not ending in ``-vN``."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or _VERSION_SUFFIX.search(name):
        raise LabelInvalid(
            f"The key name {name!r} is not allowed.",
            next_step="Use 1 to 48 letters, digits or . _ : + - (starting with a letter or digit), "
            "not ending in -v and a number: versions are added by the console.",
        )
    return name


def token_label(name: str, version: int) -> str:
    """The CKA_LABEL of version ``version`` of ``name``."""
    if version < 1:
        raise ValueError("versions start at 1")
    return name if version == 1 else f"{name}-v{version}"


@dataclass(frozen=True, slots=True)
class KeyRef:
    """``name`` or ``name@N`` as typed by a person or written in a script."""

    name: str
    version: int | None = None  # None: the newest active version

    @classmethod
    def parse(cls, text: object) -> "KeyRef":
        if not isinstance(text, str) or not text.strip():
            raise LabelInvalid("No key named.", next_step="Name a key as NAME or NAME@VERSION.")
        text = text.strip()
        name, sep, version = text.partition("@")
        if not sep:
            return cls(name)
        if not version.isdigit() or int(version) < 1:
            raise LabelInvalid(f"{text!r}: the version after @ is a number from 1.",
                               next_step="Name a key as NAME or NAME@VERSION, e.g. dek@2.")
        return cls(name, int(version))

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"
