"""Envelope encryption of data at rest under named, versioned master keys (purpose ``wrap``).

* ``encrypt_file``: a fresh data key generated in the HSM, wrapped under the newest active
  version of the named key; the file streamed through AES-256-GCM in the HSM, chunk by chunk
  (memory flat in the file size), into a new file written once.
* ``decrypt_file``: the header names the key and version; that version must be active,
  suspended or deactivated and at or above the name's minimum decryption version; compromised
  and destroyed versions are refused by name. The plaintext goes to a temporary file that is
  published only after every chunk's tag verified: a damaged file leaves nothing behind.
* ``rewrap_file``: the data key is unwrapped under the old version and wrapped under the
  newest active one inside the HSM; the body is copied unchanged. Neither the data key nor the
  data is ever in clear outside the HSM.
* ``encrypt_record`` / ``decrypt_record``: the same format for small records in memory (the
  records benchmark), without a ledger event per record.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TYPE_CHECKING

from vault.backup.outfile import WriteOnceFile, check_folder, output_failed, refuse_existing
from vault.envelope import format as fmt
from vault.errors import DecryptionRefused, EnvelopeCorrupt, KeyExpired, KeyNotActive, PurposeMismatch
from vault.hsm import envelope as hsm_envelope
from vault.operations._common import ACTOR
from vault.operations.keys import resolve_key, token_key
from vault.store.records import KeyRecord
from vault.types import KeyPurpose, KeyState

if TYPE_CHECKING:
    from vault.vault import Vault

DECRYPTING_STATES = frozenset({KeyState.ACTIVE, KeyState.SUSPENDED, KeyState.DEACTIVATED})


@dataclass(frozen=True, slots=True)
class EnvelopeResult:
    key: str  # NAME@VERSION that protects the output
    path: str
    sha256: str
    size: int
    file_id: str


def encryption_key(vault: Vault, ref: str) -> KeyRecord:
    """The version that protects new data: active, purpose wrap, within its cryptoperiod."""
    key = resolve_key(vault, ref)
    if key.purpose is not KeyPurpose.WRAP:
        raise PurposeMismatch(f"Key {key.ref} has the purpose {key.purpose.value}; envelope encryption wraps data "
                              "keys under a key whose purpose is wrap.",
                              next_step="Generate one with the plan-key ceremony (purpose wrap).")
    if key.state is not KeyState.ACTIVE:
        raise KeyNotActive(f"Key {key.ref} is {key.state.value}; only an active version protects new data.",
                           next_step=f"Encrypt under {key.name} (its newest active version).")
    if key.expires_at and vault.store.now() >= key.expires_at:
        raise KeyExpired(f"Key {key.ref}'s cryptoperiod ended at {key.expires_at}; it protects nothing new.")
    return key


def decryption_key(vault: Vault, header: fmt.Header) -> KeyRecord:
    """The version the header names, if the vault lets it decrypt."""
    key = resolve_key(vault, header.key_ref)
    if key.fingerprint != header.key_fingerprint:
        raise EnvelopeCorrupt(f"The file names {header.key_ref} with check value {header.key_fingerprint}; this "
                              f"vault's {key.ref} has {key.fingerprint}.", next_step="Decrypt it in the vault that wrote it.")
    if key.state in (KeyState.COMPROMISED, KeyState.DESTROYED_COMPROMISED):
        raise DecryptionRefused(f"Key {key.ref} is compromised: what it protected is not trusted, and it decrypts "
                                "nothing.", next_step="Recover the data from another source.")
    if key.state is KeyState.DESTROYED:
        raise DecryptionRefused(f"Key {key.ref} was destroyed; what it protected can no longer be decrypted.",
                                next_step="Rewrap files before destroying the versions that protect them.")
    if key.state not in DECRYPTING_STATES:
        raise DecryptionRefused(f"Key {key.ref} is {key.state.value} and decrypts nothing.")
    minimum = vault.store.get_key_name(key.name).min_decryption_version
    if key.version < minimum:
        raise DecryptionRefused(f"Key {key.ref} is below the minimum decryption version of {key.name} "
                                f"({minimum}).", next_step=f"Rewrap files to version {minimum} or newer first.")
    return key


def _master(session, key: KeyRecord):
    return hsm_envelope.master_key(session, token_key(session, key))


def _encrypt_stream(session, key: KeyRecord, src: BinaryIO, dst: BinaryIO, chunk_size: int,
                    master=None) -> fmt.Header:
    dek = hsm_envelope.new_data_key(session)
    try:
        wrapped = hsm_envelope.wrap_data_key(session, master or _master(session, key), dek)
        header = fmt.Header(key.name, key.version, key.fingerprint, session.wrap_mechanism.name, wrapped,
                            fmt.new_file_id(), chunk_size)
        dst.write(header.encode())
        for index, block, final in fmt.chunks(src, chunk_size):
            dst.write(hsm_envelope.encrypt(dek, fmt.nonce(header, index), fmt.aad(header, index, final), block))
        return header
    finally:
        dek.destroy()


def _decrypt_stream(session, vault: Vault, src: BinaryIO, dst: BinaryIO, masters: dict | None = None
                    ) -> tuple[fmt.Header, KeyRecord]:
    header = fmt.read_header(src)
    if masters is not None and header.key_ref in masters:
        key, master = masters[header.key_ref]
        if key.fingerprint != header.key_fingerprint:
            key = decryption_key(vault, header)  # names the mismatch
    else:
        key = decryption_key(vault, header)
        master = _master(session, key)
        if masters is not None:
            masters[header.key_ref] = (key, master)
    dek = hsm_envelope.unwrap_data_key(session, master, header.wrapped_key)
    try:
        for index, block, final in fmt.chunks(src, header.chunk_size + fmt.TAG):
            dst.write(hsm_envelope.decrypt(dek, fmt.nonce(header, index), fmt.aad(header, index, final), block))
        return header, key
    finally:
        dek.destroy()


class RecordCipher:
    """Small records, each its own envelope (own data key), with the master key found once and
    the key policy checked once per key version for the life of this object (one ceremony step)."""

    def __init__(self, vault: Vault, session, ref: str | None = None) -> None:
        self.vault, self.session = vault, session
        self.key = encryption_key(vault, ref) if ref is not None else None
        self._master = _master(session, self.key) if self.key is not None else None
        self._masters: dict = {}

    def encrypt(self, data: bytes) -> bytes:
        if self.key is None:
            raise ValueError("RecordCipher made without a key only decrypts")
        out = io.BytesIO()
        _encrypt_stream(self.session, self.key, io.BytesIO(data), out, fmt.DEFAULT_CHUNK, self._master)
        return out.getvalue()

    def decrypt(self, blob: bytes) -> bytes:
        out = io.BytesIO()
        _decrypt_stream(self.session, self.vault, io.BytesIO(blob), out, self._masters)
        return out.getvalue()


def encrypt_record(session, key: KeyRecord, data: bytes) -> bytes:
    out = io.BytesIO()
    _encrypt_stream(session, key, io.BytesIO(data), out, fmt.DEFAULT_CHUNK)
    return out.getvalue()


def decrypt_record(session, vault: Vault, blob: bytes) -> bytes:
    out = io.BytesIO()
    _decrypt_stream(session, vault, io.BytesIO(blob), out)
    return out.getvalue()


def _write(path: Path, fill) -> tuple[int, str, object]:
    """Run ``fill(stream)`` into a temp file beside ``path``; publish only when it returns."""
    out = WriteOnceFile(path)
    digest, size = hashlib.sha256(), 0

    class _Hashing(io.RawIOBase):
        def write(self, b):
            nonlocal size
            digest.update(b)
            size += len(b)
            try:
                out.file.write(b)
            except OSError as exc:
                raise output_failed(path, "Writing", exc) from None
            return len(b)

    try:
        result = fill(_Hashing())
        out.publish()
    except BaseException:
        out.discard()
        raise
    return size, digest.hexdigest(), result


def _check_paths(src: Path, dst: Path) -> None:
    if not Path(src).is_file():
        from vault.errors import PayloadUnreadable

        raise PayloadUnreadable(f"{src} is not a readable file.")
    refuse_existing(Path(dst))
    check_folder(Path(dst))


def encrypt_file(vault: Vault, session, ref: str, src: Path, dst: Path, *, chunk_size: int = fmt.DEFAULT_CHUNK,
                 ceremony_id: str | None = None, actor: str = ACTOR) -> EnvelopeResult:
    key = encryption_key(vault, ref)
    _check_paths(src, dst)
    with open(src, "rb") as stream:
        size, sha, header = _write(Path(dst), lambda out: _encrypt_stream(session, key, stream, out, chunk_size))
    return _recorded(vault, "envelope.encrypted", key.ref, dst, sha, size, header, ceremony_id, actor,
                     source=str(Path(src).resolve()))


def decrypt_file(vault: Vault, session, src: Path, dst: Path, *, ceremony_id: str | None = None,
                 actor: str = ACTOR) -> EnvelopeResult:
    _check_paths(src, dst)
    with open(src, "rb") as stream:
        size, sha, (header, key) = _write(Path(dst), lambda out: _decrypt_stream(session, vault, stream, out))
    return _recorded(vault, "envelope.decrypted", key.ref, dst, sha, size, header, ceremony_id, actor,
                     source=str(Path(src).resolve()), key_state=key.state.value)


def rewrap_file(vault: Vault, session, src: Path, dst: Path, *, ceremony_id: str | None = None,
                actor: str = ACTOR) -> EnvelopeResult:
    """The file re-protected under the newest active version of its key, the body unchanged."""
    _check_paths(src, dst)
    with open(src, "rb") as stream:
        header = fmt.read_header(stream)
        old = decryption_key(vault, header)
        new = encryption_key(vault, old.name)
        if new.version == old.version:
            raise DecryptionRefused(f"{src} is already under {new.ref}, the newest active version.",
                                    next_step="Rotate the key first, then rewrap.")
        dek = hsm_envelope.unwrap_data_key(session, _master(session, old), header.wrapped_key)
        try:
            wrapped = hsm_envelope.wrap_data_key(session, _master(session, new), dek)
        finally:
            dek.destroy()
        rewrapped = header.rewrapped(new.name, new.version, new.fingerprint, wrapped, session.wrap_mechanism.name)

        def fill(out):
            out.write(rewrapped.encode())
            while block := stream.read(1 << 20):
                out.write(block)
            return rewrapped

        size, sha, _ = _write(Path(dst), fill)
    return _recorded(vault, "envelope.rewrapped", new.ref, dst, sha, size, rewrapped, ceremony_id, actor,
                     source=str(Path(src).resolve()), previous_key=old.ref)


def _recorded(vault: Vault, action, key_ref, dst, sha, size, header, ceremony_id, actor, **extra) -> EnvelopeResult:
    path = str(Path(dst).resolve())
    try:
        vault.ledger.append(action, {"key": key_ref, "path": path, "sha256": sha, "size": size,
                                     "file_id": header.file_id.hex(), **extra}, actor=actor, ceremony_id=ceremony_id)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return EnvelopeResult(key_ref, path, sha, size, header.file_id.hex())


def raise_min_decryption_version(vault: Vault, name: str, version: int, *, ceremony_id: str | None = None,
                                 actor: str = ACTOR):
    """Versions below ``version`` stop decrypting (never lowered again)."""
    before = vault.store.get_key_name(resolve_key(vault, name).name)
    with vault.store.atomic():
        record = vault.store.set_min_decryption_version(before.name, version)
        vault.ledger.append("key.min_decryption_version", {"name": before.name, "from": before.min_decryption_version,
                                                           "to": version}, actor=actor, ceremony_id=ceremony_id)
    return record
