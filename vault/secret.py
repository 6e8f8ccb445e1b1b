"""A container for secrets: PINs, shares, passphrases, the quorum secret, key bytes.

Python cannot promise that a secret leaves no copy in memory (immutable ``bytes``/``str`` are
copied by the interpreter); what this type promises is narrower and testable:

* ``repr``/``str``/``format`` never show the value; pickling and JSON encoding are refused;
* the value is reached only through ``reveal()`` (bytes) or ``reveal_text()``;
* equality is constant-time;
* ``wipe()`` overwrites the ``bytearray`` backing, and every later use raises.
"""

from __future__ import annotations

import hmac


class Secret:
    __slots__ = ("_buf", "_kind", "_wiped")

    def __init__(self, value: bytes | bytearray | str, kind: str = "secret") -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError("Secret takes bytes or str")
        self._buf = bytearray(value)
        self._kind = kind
        self._wiped = False

    @property
    def kind(self) -> str:
        return self._kind

    def reveal(self) -> bytes:
        self._check()
        return bytes(self._buf)

    def reveal_text(self) -> str:
        return self.reveal().decode("utf-8")

    def __len__(self) -> int:
        self._check()
        return len(self._buf)

    def __bool__(self) -> bool:
        return not self._wiped and len(self._buf) > 0

    def wipe(self) -> None:
        for i in range(len(self._buf)):
            self._buf[i] = 0
        self._buf = bytearray()
        self._wiped = True

    @property
    def wiped(self) -> bool:
        return self._wiped

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self.reveal(), other.reveal())

    def __hash__(self) -> int:  # secrets are not dict keys: hashing would leak equality classes
        raise TypeError("Secret is not hashable")

    def __repr__(self) -> str:
        state = "wiped" if self._wiped else "redacted"
        return f"<Secret {self._kind} {state}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self):  # no pickling, no copy.copy to disk caches
        raise TypeError("Secret cannot be pickled")

    def __enter__(self) -> "Secret":
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def _check(self) -> None:
        if self._wiped:
            raise ValueError(f"{self._kind} was wiped and can no longer be used")
