"""The envelope file format, version 1 (docs/envelope-format.md). Pure code: no HSM, no I/O
beyond the streams it is given.

A file is one header line (UTF-8 JSON, at most 4 KiB, ending in a newline) followed by the
body: chunks of AES-256-GCM ciphertext, each ``chunk_size`` bytes of plaintext (the last one
shorter, possibly empty) plus a 16-byte tag. Chunk ``i`` uses the nonce
``file_id[:4] || i`` (8 bytes, big endian) and the additional data
``SHA-256(b"custodian-envelope/1" || file_id || chunk_size) || i || final`` (final: 1 for the
last chunk, else 0), so a chunk cannot be moved, dropped, or the file truncated or extended,
without a tag failing. The header names the master key (name and version) and carries the
data key wrapped under it; ``rewrap`` replaces only those fields, so the AAD binds what does
not change (file id, chunk size).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from typing import BinaryIO, Iterator

from vault.errors import EnvelopeCorrupt

MAGIC = "custodian-envelope"
VERSION = 1
CIPHER = "AES-256-GCM"
TAG = 16
MAX_HEADER = 4096
DEFAULT_CHUNK = 1 << 20  # 1 MiB: memory flat in the file size, few HSM calls


@dataclass(frozen=True, slots=True)
class Header:
    key: str  # the master key's name
    key_version: int
    key_fingerprint: str  # its check value, to tell a wrong key from a damaged file
    wrap_mechanism: str
    wrapped_key: bytes  # the data key, wrapped under the master key
    file_id: bytes  # 16 random bytes
    chunk_size: int = DEFAULT_CHUNK

    @property
    def key_ref(self) -> str:
        return f"{self.key}@{self.key_version}"

    def encode(self) -> bytes:
        body = {
            "magic": MAGIC, "version": VERSION, "cipher": CIPHER, "key": self.key, "key_version": self.key_version,
            "key_fingerprint": self.key_fingerprint, "wrap_mechanism": self.wrap_mechanism,
            "wrapped_key": base64.b64encode(self.wrapped_key).decode(), "file_id": self.file_id.hex(),
            "chunk_size": self.chunk_size,
        }
        return (json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n").encode()

    def rewrapped(self, key: str, version: int, fingerprint: str, wrapped: bytes, mechanism: str) -> "Header":
        return replace(self, key=key, key_version=version, key_fingerprint=fingerprint, wrapped_key=wrapped,
                       wrap_mechanism=mechanism)


def new_file_id() -> bytes:
    return os.urandom(16)


def read_header(stream: BinaryIO) -> Header:
    line = stream.readline(MAX_HEADER + 1)
    if not line.endswith(b"\n") or len(line) > MAX_HEADER:
        raise EnvelopeCorrupt("This is not an envelope-encrypted file (no header line).",
                              next_step="Give a file written by the encrypt step.")
    try:
        data = json.loads(line)
        if data.get("magic") != MAGIC:
            raise ValueError("magic")
        if data.get("version") != VERSION or data.get("cipher") != CIPHER:
            raise EnvelopeCorrupt(f"Envelope format {data.get('version')!r} / {data.get('cipher')!r} is not one this "
                                  "console reads.", next_step="Use the console version that wrote it.")
        header = Header(str(data["key"]), int(data["key_version"]), str(data["key_fingerprint"]),
                        str(data["wrap_mechanism"]), base64.b64decode(data["wrapped_key"], validate=True),
                        bytes.fromhex(data["file_id"]), int(data["chunk_size"]))
    except EnvelopeCorrupt:
        raise
    except (ValueError, KeyError, TypeError):
        raise EnvelopeCorrupt("The envelope header is damaged.", next_step="Use an intact copy of the file.") from None
    if len(header.file_id) != 16 or not 1 <= header.chunk_size <= 64 << 20:
        raise EnvelopeCorrupt("The envelope header is damaged.", next_step="Use an intact copy of the file.")
    return header


def nonce(header: Header, index: int) -> bytes:
    return header.file_id[:4] + index.to_bytes(8, "big")


def aad(header: Header, index: int, final: bool) -> bytes:
    binding = hashlib.sha256(b"custodian-envelope/1" + header.file_id + header.chunk_size.to_bytes(8, "big")).digest()
    return binding + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def chunks(stream: BinaryIO, size: int) -> Iterator[tuple[int, bytes, bool]]:
    """(index, block, final) over ``stream`` read ``size`` bytes at a time, one block ahead;
    an empty stream gives one empty final block."""
    index, current = 0, stream.read(size)
    while True:
        following = stream.read(size) if len(current) == size else b""
        final = not following
        yield index, current, final
        if final:
            return
        index, current = index + 1, following
