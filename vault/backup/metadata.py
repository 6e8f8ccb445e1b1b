"""Sealing the vault metadata a bundle carries (formats 2 and 3): JSON lines, compressed, AES-256-GCM.

Format 3 (what the console writes): the records (``vault.store.snapshot``) gathered into
column blocks (``vault.backup.columnar``), one JSON text per line, the lines compressed as one
xz stream (LZMA2, preset 3: its 4 MiB window reaches from a key's record to the same key's
name, history and ledger event). Format 2 (still read): the records one canonical JSON text
per line, compressed as one zlib stream (RFC 1950). Either stream is cut into chunks of at most
``CHUNK_BYTES``; each chunk is sealed with AES-256-GCM under the **backup metadata key**
(HKDF of the quorum secret, ``custodian-console/v1/backup-metadata-key``) with a fresh random
96-bit nonce and, as associated data, ``custodian-console/v2/bundle-metadata`` || 0x00 || the
chunk's index (8 bytes, big-endian). A chunk's line holds ``nonce || ciphertext || tag``.

Why sealed, when nothing else in a bundle is secret: the metadata includes the custodians'
passphrase verifiers and passphrase-encrypted signing keys, which must not become readable
(or attackable offline) to whoever finds the medium; the rest (names, key inventory) is
nobody's business but the vault's. The bundle MAC still authenticates every line; GCM adds
that a chunk cannot be read without a quorum. Compression keeps the bundle small: key records
and ledger events repeat the same field names and values; in columns, the same values sit side
by side (bench/results/backup_metadata.txt has the sizes and times of both formats).
"""

from __future__ import annotations

import json
import lzma
import os
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.backup.columnar import from_columns, to_columns
from vault.secret import Secret

CHUNK_BYTES = 24 * 1024  # sealed and base64-encoded: about 32 KiB, well under a line's 64 KiB
NONCE_BYTES = 12
AAD_PREFIX = b"custodian-console/v2/bundle-metadata\x00"
MAX_PLAIN_LINE = 16 * 1024 * 1024  # one record; a key row or a ledger event is far smaller
#: The newest layout, what ``seal_records`` writes unless told otherwise (= the bundle's format).
LAYOUT = 3
XZ_PRESET = 3  # preset 1 with the same window is as small; 0-2 (1-2 MiB windows) are ~2x larger
_block_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode


class MetadataUnreadable(ValueError):
    """A chunk that does not open, or a stream that is not JSON lines."""


def _aad(index: int) -> bytes:
    return AAD_PREFIX + index.to_bytes(8, "big")


def _json(record: Any) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def seal_records(key: Secret, records: Iterable[Any], *, layout: int = LAYOUT) -> Iterator[bytes]:
    """The sealed chunks (``nonce || ciphertext || tag``) of ``records``, streamed.

    ``layout`` 3: ``records`` may hold BLOBs as bytes (``snapshot_records(blobs=True)``);
    layout 2: the records must be JSON values already."""
    if layout not in (2, 3):
        raise ValueError(f"no metadata layout {layout!r}")
    aead = AESGCM(key.reveal())
    if layout == 3:
        packer = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=XZ_PRESET)
        lines = (_block_json(r).encode("ascii") + b"\n" for r in to_columns(records))
    else:
        packer = zlib.compressobj(6)  # level 9: 4% smaller, 10x slower (bench/results/backup_metadata.txt)
        lines = (_json(r) + b"\n" for r in records)
    pending = bytearray()
    index = 0

    def seal(data: bytes) -> bytes:
        nonlocal index
        nonce = os.urandom(NONCE_BYTES)
        out = nonce + aead.encrypt(nonce, data, _aad(index))
        index += 1
        return out

    for line in lines:
        pending += packer.compress(line)
        while len(pending) >= CHUNK_BYTES:
            yield seal(bytes(pending[:CHUNK_BYTES]))
            del pending[:CHUNK_BYTES]
    pending += packer.flush()
    while pending:
        yield seal(bytes(pending[:CHUNK_BYTES]))
        del pending[:CHUNK_BYTES]


def open_records(key: Secret, chunks: Iterable[bytes], *, layout: int = LAYOUT) -> Iterator[Any]:
    """The records of sealed ``chunks`` (in order), streamed; ``MetadataUnreadable`` on any problem.

    ``layout``: the bundle's format version (2 or 3). The records are the snapshot's, as
    ``vault.store.snapshot`` describes them, whatever the layout."""
    if layout not in (2, 3):
        raise MetadataUnreadable(f"no metadata layout {layout!r}")
    records = _open_lines(key, chunks, layout)
    if layout == 2:
        yield from records
        return
    try:
        yield from from_columns(records)
    except ValueError as exc:
        if isinstance(exc, MetadataUnreadable):
            raise
        raise MetadataUnreadable(f"a metadata block is malformed: {exc}") from None


def _open_lines(key: Secret, chunks: Iterable[bytes], layout: int) -> Iterator[Any]:
    aead = AESGCM(key.reveal())
    unpack: Any = lzma.LZMADecompressor(format=lzma.FORMAT_XZ) if layout == 3 else zlib.decompressobj()
    name = "xz" if layout == 3 else "zlib"
    tail = b""
    index = 0
    for chunk in chunks:
        if len(chunk) < NONCE_BYTES + 16:
            raise MetadataUnreadable(f"metadata chunk {index} is too short")
        try:
            data = aead.decrypt(chunk[:NONCE_BYTES], chunk[NONCE_BYTES:], _aad(index))
        except InvalidTag:
            raise MetadataUnreadable(f"metadata chunk {index} does not open with this quorum's metadata key") from None
        index += 1
        if unpack.eof:
            raise MetadataUnreadable("the metadata stream has data after its last record")
        try:
            tail += unpack.decompress(data)
        except (zlib.error, lzma.LZMAError):
            raise MetadataUnreadable(f"the metadata is not a valid {name} stream") from None
        *lines, tail = tail.split(b"\n")
        if len(tail) > MAX_PLAIN_LINE:
            raise MetadataUnreadable("a metadata record is too long")
        for line in lines:
            yield _parse(line)
    if not unpack.eof:
        raise MetadataUnreadable("the metadata stream is cut off")
    if tail or unpack.unused_data:
        raise MetadataUnreadable("the metadata stream has data after its last record")


def _parse(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        raise MetadataUnreadable("a metadata record is not JSON") from None
