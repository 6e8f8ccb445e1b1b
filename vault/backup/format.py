"""The backup bundle format, versions 1 to 3: write, inspect, verify. Pure data and crypto.

The byte-exact specification is ``docs/backup-format.md``; in short, a bundle is ASCII JSON
Lines, one LF after every line:

    line 1      header   {"type":"header", "magic":"custodian-backup", "format_version":1, ...}
    lines 2..   keys     {"type":"key", "index":0, "label":..., "wrapped":<base64 RFC 5649>, ...}
    (version 2+) metadata {"type":"metadata", "index":0, "sealed":<base64>, ...}  the vault metadata
    last line   trailer  {"type":"trailer", "key_count":N, "mac":<HMAC-SHA256 hex>, ...}

Version 2 adds the ledger head at the backup to the header and the vault's metadata
(vault.store.snapshot, sealed by vault.backup.metadata) after the key lines, under the same
MAC; version 3 (what the console writes) has the same lines, its sealed metadata in the compact
layout of vault.backup.columnar (xz instead of zlib). Versions 1 (no metadata) and 2 are still read.

Every line is canonical JSON (sorted keys, no spaces, ASCII only) carrying a ``check`` field:
the first 16 hex digits of SHA-256 over the same object's canonical JSON without ``check``. The
check is unkeyed and only locates accidental damage (a flipped bit names its line, even without
the MAC key); the trailer's MAC, HMAC-SHA256 over every byte before the trailer line keyed by a
key derived from the quorum secret, is what authenticates the bundle.

Readers never return a partial result: ``inspect_bundle`` and ``verify_bundle`` check the whole
file before returning, and ``iter_verified_entries`` checks the MAC over the whole file before it
yields the first entry (two passes; the second pass re-checks every line against the digest the
first pass verified, so a file changed in between is refused, not half-restored).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from vault.backup.outfile import WriteOnceFile, check_folder, output_failed, refuse_existing
from vault.errors import BundleCorrupt, BundleUnreadable, OutputWriteFailed, VaultError
from vault.secret import Secret
from vault.types import KeyAlgorithm, KeyState, Mode

MAGIC = "custodian-backup"
FORMAT_VERSION = 3  # what write_backup writes
SUPPORTED_VERSIONS = (1, 2, 3)
WRAP_MECHANISM = "RFC5649"
MAC_ALGORITHM = "HMAC-SHA256"
MAX_LINE_BYTES = 64 * 1024  # an RSA-4096 line is about 4 KiB
MAX_KEYS = 1_000_000
MIN_MAC_KEY_BYTES = 16

_HEADER_FIELDS = frozenset(
    {"type", "magic", "format_version", "created_at", "ceremony_id", "share_set_id", "slip39_identifier",
     "kek_check_value", "wrap_mechanism", "mac_algorithm", "key_count", "mode", "check"}
)  # fmt: skip
_HEADER_FIELDS_V2 = _HEADER_FIELDS | {"ledger_seq", "ledger_head"}
_KEY_FIELDS = frozenset(
    {"type", "index", "label", "cka_id", "algorithm", "version", "state", "fingerprint", "public_key_pem",
     "wrapped", "check"}
)  # fmt: skip
_TRAILER_FIELDS = frozenset({"type", "key_count", "mac", "check"})
_TRAILER_FIELDS_V2 = _TRAILER_FIELDS | {"metadata_count"}
_METADATA_FIELDS = frozenset({"type", "index", "sealed", "check"})
MAX_METADATA_LINES = 1_000_000

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_KCV_RE = re.compile(r"^[0-9a-f]{6}$")
_HEX_RE = re.compile(r"^(?:[0-9a-f]{2})+$")
_CHECK_RE = re.compile(r"^[0-9a-f]{16}$")
_MAC_RE = re.compile(r"^[0-9a-f]{64}$")
_AES_FP = re.compile(r"^kcv:[0-9a-f]{6}$")
_PAIR_FP = re.compile(r"^sha256:[0-9a-f]{64}$")
_PEM_BEGIN, _PEM_END = "-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n"


# --- values ---------------------------------------------------------------------------------------
def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v: object, name: str, max_len: int) -> None:
    if not (isinstance(v, str) and 0 < len(v) <= max_len and not _CONTROL.search(v)):
        raise ValueError(f"field '{name}' must be 1 to {max_len} characters without control characters")


def utc_timestamp(at: datetime | None = None) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds): the format of ``created_at``."""
    at = at or datetime.now(timezone.utc)
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class BundleHeader:
    ceremony_id: str
    share_set_id: int
    slip39_identifier: int  # the 15-bit SLIP-39 identifier shown by `shamir` and in the share words
    kek_check_value: str  # 6 hex digits: AES-ECB(KEK, 16 zero bytes)[:3], safe to publish
    key_count: int
    mode: Mode
    created_at: str  # YYYY-MM-DDTHH:MM:SSZ
    format_version: int = 1  # create() makes FORMAT_VERSION headers; 1 and 2 are kept for old bundles
    wrap_mechanism: str = WRAP_MECHANISM
    mac_algorithm: str = MAC_ALGORITHM
    ledger_seq: int | None = None  # version 2+: the ledger's last event in the metadata
    ledger_head: str | None = None  # version 2+: that event's hash (64 hex digits)

    def __post_init__(self) -> None:
        _text(self.ceremony_id, "ceremony_id", 200)
        _require(_is_int(self.share_set_id) and self.share_set_id >= 0, "field 'share_set_id' must be an integer >= 0")
        _require(
            _is_int(self.slip39_identifier) and 0 <= self.slip39_identifier < 2**15,
            "field 'slip39_identifier' must be an integer 0..32767",
        )
        _require(
            isinstance(self.kek_check_value, str) and bool(_KCV_RE.match(self.kek_check_value)),
            "field 'kek_check_value' must be 6 lowercase hex digits",
        )
        _require(
            _is_int(self.key_count) and 0 <= self.key_count <= MAX_KEYS, f"field 'key_count' must be 0..{MAX_KEYS}"
        )
        _require(isinstance(self.mode, Mode), "field 'mode' must be practice or production")
        _require(
            isinstance(self.created_at, str) and bool(_TIME_RE.match(self.created_at)) and _valid_time(self.created_at),
            "field 'created_at' must be a UTC time YYYY-MM-DDTHH:MM:SSZ",
        )
        _require(self.format_version in SUPPORTED_VERSIONS, f"field 'format_version' must be one of "
                 f"{SUPPORTED_VERSIONS}")
        if self.format_version >= 2:
            _require(_is_int(self.ledger_seq) and self.ledger_seq >= 0, "field 'ledger_seq' must be an integer >= 0")
            _require(isinstance(self.ledger_head, str) and bool(_MAC_RE.match(self.ledger_head)),
                     "field 'ledger_head' must be 64 lowercase hex digits")
        else:
            _require(self.ledger_seq is None and self.ledger_head is None,
                     "a version 1 header has no ledger head")
        _require(self.wrap_mechanism == WRAP_MECHANISM, f"field 'wrap_mechanism' must be {WRAP_MECHANISM!r}")
        _require(self.mac_algorithm == MAC_ALGORITHM, f"field 'mac_algorithm' must be {MAC_ALGORITHM!r}")

    @classmethod
    def create(
        cls,
        *,
        ceremony_id: str,
        share_set_id: int,
        slip39_identifier: int,
        kek_check_value: str,
        key_count: int,
        mode: Mode,
        ledger_seq: int,
        ledger_head: str,
        now: datetime | None = None,
    ) -> "BundleHeader":
        return cls(
            ceremony_id=ceremony_id,
            share_set_id=share_set_id,
            slip39_identifier=slip39_identifier,
            kek_check_value=kek_check_value,
            key_count=key_count,
            mode=mode,
            created_at=utc_timestamp(now),
            format_version=FORMAT_VERSION,
            ledger_seq=ledger_seq,
            ledger_head=ledger_head,
        )

    @property
    def has_metadata(self) -> bool:
        """Version 2 and later carry the vault's metadata after the key lines."""
        return self.format_version >= 2

    def to_dict(self) -> dict[str, Any]:
        extra = {"ledger_seq": self.ledger_seq, "ledger_head": self.ledger_head} if self.has_metadata else {}
        return {
            **extra,
            "type": "header",
            "magic": MAGIC,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "ceremony_id": self.ceremony_id,
            "share_set_id": self.share_set_id,
            "slip39_identifier": self.slip39_identifier,
            "kek_check_value": self.kek_check_value,
            "wrap_mechanism": self.wrap_mechanism,
            "mac_algorithm": self.mac_algorithm,
            "key_count": self.key_count,
            "mode": self.mode.value,
        }


def _valid_time(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One wrapped key. ``wrapped`` is RFC 5649 output under the backup KEK (not secret)."""

    label: str
    cka_id: str  # lowercase hex of CKA_ID
    algorithm: KeyAlgorithm
    version: int
    state: KeyState
    fingerprint: str  # "kcv:<6 hex>" (AES) or "sha256:<hex of the SPKI DER>" (pairs)
    public_key_pem: str | None  # pairs only
    wrapped: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _text(self.label, "label", 128)
        _require(
            isinstance(self.cka_id, str) and bool(_HEX_RE.match(self.cka_id)) and len(self.cka_id) <= 256,
            "field 'cka_id' must be lowercase hex, 1 to 128 bytes",
        )
        _require(isinstance(self.algorithm, KeyAlgorithm), "field 'algorithm' is not a known algorithm")
        _require(_is_int(self.version) and self.version >= 1, "field 'version' must be an integer >= 1")
        _require(isinstance(self.state, KeyState), "field 'state' is not a known key state")
        _require(isinstance(self.wrapped, bytes), "field 'wrapped' must be bytes")
        _require(
            16 <= len(self.wrapped) <= 16384 and len(self.wrapped) % 8 == 0,
            "field 'wrapped' must be an RFC 5649 blob: 16 to 16384 bytes, a multiple of 8",
        )
        if self.algorithm.is_secret_key:
            _require(self.public_key_pem is None, "field 'public_key_pem' must be null for a secret key")
            _require(
                isinstance(self.fingerprint, str) and bool(_AES_FP.match(self.fingerprint)),
                "field 'fingerprint' of a secret key must be kcv:<6 hex digits>",
            )
        else:
            _require(
                isinstance(self.fingerprint, str) and bool(_PAIR_FP.match(self.fingerprint)),
                "field 'fingerprint' of a key pair must be sha256:<64 hex digits>",
            )
            der = _pem_der(self.public_key_pem)
            _require(
                "sha256:" + sha256(der).hexdigest() == self.fingerprint,
                "field 'fingerprint' is not the SHA-256 of the public key in 'public_key_pem'",
            )

    @property
    def summary(self) -> "KeySummary":
        return KeySummary(self.label, self.cka_id, self.algorithm, self.version, self.state, self.fingerprint)

    def to_dict(self, index: int) -> dict[str, Any]:
        return {
            "type": "key",
            "index": index,
            "label": self.label,
            "cka_id": self.cka_id,
            "algorithm": self.algorithm.value,
            "version": self.version,
            "state": self.state.value,
            "fingerprint": self.fingerprint,
            "public_key_pem": self.public_key_pem,
            "wrapped": base64.b64encode(self.wrapped).decode("ascii"),
        }


def _pem_der(pem: object) -> bytes:
    _require(
        isinstance(pem, str) and len(pem) <= 16384 and pem.startswith(_PEM_BEGIN) and pem.endswith(_PEM_END),
        "field 'public_key_pem' must be a PEM 'PUBLIC KEY' block ending with a newline",
    )
    body = pem[len(_PEM_BEGIN) : -len(_PEM_END)]  # type: ignore[index]
    try:
        return base64.b64decode("".join(body.split("\n")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("field 'public_key_pem' has invalid base64") from None


@dataclass(frozen=True, slots=True)
class KeySummary:
    label: str
    cka_id: str
    algorithm: KeyAlgorithm
    version: int
    state: KeyState
    fingerprint: str


@dataclass(frozen=True, slots=True)
class BundleContents:
    """What ``inspect_bundle`` returns: structure checked, MAC *not* checked (no key needed)."""

    header: BundleHeader
    entries: tuple[KeyEntry, ...]
    mac: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What ``verify_bundle`` returns: the whole file checked, MAC included."""

    path: str
    header: BundleHeader
    keys: tuple[KeySummary, ...]
    sha256: str
    size: int

    @property
    def key_count(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, slots=True)
class BundleWritten:
    path: str
    sha256: str  # of the whole file, for the backups table
    size: int
    key_count: int


def kek_check_value(kek: Secret) -> str:
    """The KEK's check value: first 3 bytes of AES-ECB(KEK, 16 zero bytes), as 6 hex digits."""
    enc = Cipher(algorithms.AES(kek.reveal()), modes.ECB()).encryptor()
    return (enc.update(bytes(16)) + enc.finalize())[:3].hex()


# --- line codec -----------------------------------------------------------------------------------
def _canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def _line_check(body: dict[str, Any]) -> str:
    return sha256(_canonical(body)).hexdigest()[:16]


def encode_line(body: dict[str, Any]) -> bytes:
    """Canonical JSON of ``body`` plus its ``check`` field, and the terminating LF."""
    return _canonical({**body, "check": _line_check(body)}) + b"\n"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


class _Corrupt(Exception):
    """Internal: a problem on one line; turned into BundleCorrupt with the path."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line, self.what = line, what


def _decode_line(n: int, raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise _Corrupt(n, "contains a byte that is not ASCII (damaged)") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise _Corrupt(n, "is not valid JSON (damaged)") from None
    if not isinstance(obj, dict):
        raise _Corrupt(n, "is not a JSON object")
    if n == 1:
        _check_magic(obj)  # name a foreign or newer file before complaining about its details
    check = obj.get("check")
    if not isinstance(check, str) or not _CHECK_RE.match(check):
        raise _Corrupt(n, "has no valid 'check' field")
    # Every line type has a field sorting after "check", so in canonical form the member is
    # followed by a comma; inside a JSON string a quote is always escaped, so this exact text
    # can only be the member itself. Removing it gives the canonical body the check covers.
    if _canonical(obj) != raw:
        raise _Corrupt(n, "is not in canonical form: the line was damaged or edited")
    body = raw.replace(b'"check":"' + check.encode("ascii") + b'",', b"", 1)
    if sha256(body).hexdigest()[:16] != check:
        raise _Corrupt(n, "does not match its check value: the line was damaged or edited")
    del obj["check"]
    return obj


def _check_magic(obj: dict[str, Any]) -> None:
    if "magic" not in obj and obj.get("type") in ("key", "trailer"):
        raise _Corrupt(1, f"is a {obj['type']} line, expected the header: the header was removed or moved")
    magic = obj.get("magic")
    if magic != MAGIC:
        raise _Corrupt(1, f"magic is {magic!r}, expected {MAGIC!r}: this is not a custodian backup bundle")
    version = obj.get("format_version")
    if version not in SUPPORTED_VERSIONS or not _is_int(version):
        raise _Corrupt(
            1, f"format_version {version!r} is not supported (this console reads versions "
               f"{', '.join(map(str, SUPPORTED_VERSIONS))})"
        )


def _fields(n: int, obj: dict[str, Any], expected: frozenset[str]) -> None:
    keys = set(obj) | {"check"}
    if missing := sorted(expected - keys):
        raise _Corrupt(n, f"is missing field {missing[0]!r}")
    if extra := sorted(keys - expected):
        raise _Corrupt(n, f"has unexpected field {extra[0]!r}")


def _parse_header(obj: dict[str, Any]) -> BundleHeader:
    if obj.get("type") != "header":
        raise _Corrupt(1, f"is a {obj.get('type')!r} line, expected the header")
    v2 = obj.get("format_version", 1) >= 2
    _fields(1, obj, _HEADER_FIELDS_V2 if v2 else _HEADER_FIELDS)
    try:
        return BundleHeader(
            ceremony_id=obj["ceremony_id"],
            share_set_id=obj["share_set_id"],
            slip39_identifier=obj["slip39_identifier"],
            kek_check_value=obj["kek_check_value"],
            key_count=obj["key_count"],
            mode=_enum(Mode, obj["mode"], "mode"),
            created_at=obj["created_at"],
            format_version=obj["format_version"],
            wrap_mechanism=obj["wrap_mechanism"],
            mac_algorithm=obj["mac_algorithm"],
            ledger_seq=obj.get("ledger_seq"),
            ledger_head=obj.get("ledger_head"),
        )
    except ValueError as e:
        raise _Corrupt(1, f"is invalid: {e}") from None


def _parse_metadata(n: int, obj: dict[str, Any]) -> bytes:
    _fields(n, obj, _METADATA_FIELDS)
    sealed = obj["sealed"]
    try:
        if not isinstance(sealed, str):
            raise ValueError
        blob = base64.b64decode(sealed, validate=True)
    except (binascii.Error, ValueError):
        raise _Corrupt(n, "is invalid: field 'sealed' is not valid base64") from None
    if base64.b64encode(blob).decode("ascii") != sealed or len(blob) < 28:
        raise _Corrupt(n, "is invalid: field 'sealed' is not canonical base64 of a sealed chunk")
    return blob


def _enum(cls: type, value: object, name: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise ValueError(f"field {name!r} has unknown value {value!r}") from None


def _parse_key(n: int, obj: dict[str, Any]) -> KeyEntry:
    _fields(n, obj, _KEY_FIELDS)
    try:
        wrapped = obj["wrapped"]
        _require(isinstance(wrapped, str), "field 'wrapped' must be base64 text")
        try:
            blob = base64.b64decode(wrapped, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("field 'wrapped' is not valid base64") from None
        _require(base64.b64encode(blob).decode("ascii") == wrapped, "field 'wrapped' is not canonical base64")
        return KeyEntry(
            label=obj["label"],
            cka_id=obj["cka_id"],
            algorithm=_enum(KeyAlgorithm, obj["algorithm"], "algorithm"),
            version=obj["version"],
            state=_enum(KeyState, obj["state"], "state"),
            fingerprint=obj["fingerprint"],
            public_key_pem=obj["public_key_pem"],
            wrapped=blob,
        )
    except ValueError as e:
        raise _Corrupt(n, f"is invalid: {e}") from None


# --- reading --------------------------------------------------------------------------------------
@dataclass(slots=True)
class _ScanState:
    header: BundleHeader | None = None
    mac: str = ""
    sha256: str = ""
    size: int = 0
    line_digests: bytearray | None = None  # SHA-256 of every line, 32 bytes each, back to back
    metadata: bool = False  # yield the sealed metadata chunks (bytes) too
    metadata_count: int = 0


def _scan(
    path: Path,
    mac_key: Secret | None,
    state: _ScanState,
    *,
    expected_digests: bytes | bytearray | None = None,
) -> Iterator[tuple[int, KeyEntry]]:
    """Stream the bundle's key entries, checking everything; the MAC is checked at the trailer.

    Callers must exhaust the iterator before trusting anything it yielded. With
    ``expected_digests`` each line's SHA-256 must equal the one a previous pass recorded, checked
    before the line is parsed.
    """
    mac = hmac.new(mac_key.reveal(), digestmod="sha256") if mac_key is not None else None
    whole = sha256()
    try:
        f = open(path, "rb")
    except OSError as e:
        raise BundleUnreadable(f"Cannot open the bundle {path}: {e.strerror or e}.") from None
    with f:
        n = 0
        index = 0
        trailer_seen = False
        while True:
            try:
                raw = f.readline(MAX_LINE_BYTES + 1)
            except OSError as e:
                raise BundleUnreadable(f"Reading the bundle {path} failed: {e.strerror or e}.") from None
            if not raw:
                break
            n += 1
            whole.update(raw)
            state.size += len(raw)
            if expected_digests is not None:
                if 32 * n > len(expected_digests) or sha256(raw).digest() != expected_digests[32 * (n - 1) : 32 * n]:
                    raise _Corrupt(n, "changed since the bundle was verified; the file is being modified")
            elif state.line_digests is not None:
                state.line_digests += sha256(raw).digest()
            if trailer_seen:
                raise _Corrupt(n, "follows the trailer: data was appended to the bundle")
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE_BYTES:
                    raise _Corrupt(n, f"is longer than {MAX_LINE_BYTES} bytes: this is not a bundle line")
                raise _Corrupt(n, "is cut off (no newline at its end): the bundle is truncated")
            if raw == b"\n":
                raise _Corrupt(n, "is empty")
            obj = _decode_line(n, raw[:-1])
            kind = obj.get("type")
            if n == 1:
                state.header = _parse_header(obj)
            elif kind == "key":
                assert state.header is not None
                got = obj.get("index")
                if not _is_int(got):
                    raise _Corrupt(n, "has no integer 'index'")
                if got != index:
                    raise _Corrupt(
                        n, f"holds key index {got} where {index} was expected: a key line was removed, duplicated or moved"
                    )
                if index >= state.header.key_count:
                    raise _Corrupt(n, f"is a key line beyond the {state.header.key_count} keys the header announces")
                entry = _parse_key(n, obj)
                index += 1
                if mac is not None:
                    mac.update(raw)
                yield n, entry
                continue
            elif kind == "metadata" and state.header is not None and state.header.has_metadata:
                got = obj.get("index")
                if index != state.header.key_count:
                    raise _Corrupt(n, "is a metadata line before the last key line")
                if got != state.metadata_count:
                    raise _Corrupt(n, f"holds metadata index {got!r} where {state.metadata_count} was expected: a "
                                      "metadata line was removed, duplicated or moved")
                if state.metadata_count >= MAX_METADATA_LINES:
                    raise _Corrupt(n, "is one metadata line too many")
                blob = _parse_metadata(n, obj)
                state.metadata_count += 1
                if mac is not None:
                    mac.update(raw)
                if state.metadata:
                    yield n, blob  # type: ignore[misc]
                continue
            elif kind == "trailer":
                assert state.header is not None
                v2 = state.header.has_metadata
                _fields(n, obj, _TRAILER_FIELDS_V2 if v2 else _TRAILER_FIELDS)
                if v2 and obj["metadata_count"] != state.metadata_count:
                    raise _Corrupt(n, f"(the trailer) holds metadata_count {obj['metadata_count']!r} but "
                                      f"{state.metadata_count} metadata lines precede it: a metadata line is missing")
                if obj["key_count"] != state.header.key_count:
                    raise _Corrupt(
                        n, f"(the trailer) holds key_count {obj['key_count']!r} but the header announces {state.header.key_count}"
                    )
                if index != state.header.key_count:
                    raise _Corrupt(
                        n,
                        f"(the trailer) follows {index} key lines but the header announces {state.header.key_count}: "
                        "a key line is missing",
                    )
                if not isinstance(obj["mac"], str) or not _MAC_RE.match(obj["mac"]):
                    raise _Corrupt(n, "(the trailer) has a 'mac' that is not 64 lowercase hex digits")
                if mac is not None and not hmac.compare_digest(mac.hexdigest(), obj["mac"]):
                    h = state.header
                    raise _Corrupt(
                        n,
                        "(the trailer) holds a MAC that does not match: the bundle was altered after it was written, "
                        "or the MAC key "
                        f"is not from the quorum that wrote it (share set {h.share_set_id}, SLIP-39 identifier "
                        f"{h.slip39_identifier})",
                    )
                state.mac = obj["mac"]
                trailer_seen = True
                continue
            elif kind == "header":
                raise _Corrupt(n, "is a second header")
            else:
                raise _Corrupt(n, f"has unknown type {kind!r}")
            if mac is not None:
                mac.update(raw)
        if n == 0:
            raise _Corrupt(1, "is missing: the file is empty")
        if not trailer_seen:
            raise _Corrupt(n, "is the last line and no trailer follows: the bundle is truncated")
    state.sha256 = whole.hexdigest()


def _corrupt(path: Path, e: _Corrupt) -> BundleCorrupt:
    err = BundleCorrupt(f"Bundle {path}: line {e.line} {e.what}.")
    err.line = e.line  # type: ignore[attr-defined]
    return err


def _check_mac_key(mac_key: Secret) -> None:
    if not isinstance(mac_key, Secret):
        raise TypeError("mac_key must be a vault.secret.Secret")
    if len(mac_key) < MIN_MAC_KEY_BYTES:
        raise ValueError(f"mac_key must be at least {MIN_MAC_KEY_BYTES} bytes")


def inspect_bundle(path: Path) -> BundleContents:
    """Header and entries with the structure checked; no MAC key needed, so not authenticated."""
    path = Path(path)
    state = _ScanState()
    try:
        entries = tuple(e for _, e in _scan(path, None, state))
    except _Corrupt as e:
        raise _corrupt(path, e) from None
    assert state.header is not None
    return BundleContents(state.header, entries, state.mac, state.sha256, state.size)


def verify_bundle(path: Path, mac_key: Secret) -> BundleReport:
    """Check the whole bundle, MAC included. Raises ``BundleCorrupt`` naming the first bad line."""
    path = Path(path)
    _check_mac_key(mac_key)
    state = _ScanState()
    try:
        keys = tuple(e.summary for _, e in _scan(path, mac_key, state))
    except _Corrupt as e:
        raise _corrupt(path, e) from None
    assert state.header is not None
    return BundleReport(str(path), state.header, keys, state.sha256, state.size)


class VerifiedEntries:
    """The result of ``iter_verified_entries``: the MAC is already checked; iterate for the entries."""

    def __init__(self, path: Path, mac_key: Secret, state: _ScanState) -> None:
        assert state.header is not None and state.line_digests is not None
        self.path = path
        self.header: BundleHeader = state.header
        self.sha256 = state.sha256
        self.size = state.size
        self._mac_key = mac_key
        self._digests = state.line_digests

    @property
    def key_count(self) -> int:
        return self.header.key_count

    def __iter__(self) -> Iterator[KeyEntry]:
        state = _ScanState()
        try:
            for _, entry in _scan(self.path, self._mac_key, state, expected_digests=self._digests):
                yield entry
        except _Corrupt as e:
            raise _corrupt(self.path, e) from None

    def metadata_chunks(self) -> Iterator[bytes]:
        """The sealed metadata chunks (version 2+), from another pass checked against the verified digests."""
        if not self.header.has_metadata:
            return
        state = _ScanState(metadata=True)
        try:
            for _, item in _scan(self.path, self._mac_key, state, expected_digests=self._digests):
                if isinstance(item, bytes):
                    yield item
        except _Corrupt as e:
            raise _corrupt(self.path, e) from None

    def __repr__(self) -> str:
        return f"<VerifiedEntries {self.path} keys={self.key_count} sha256={self.sha256[:12]}>"


def iter_verified_entries(path: Path, mac_key: Secret) -> VerifiedEntries:
    """Verify the whole bundle (MAC included) now, then stream its entries from a second pass.

    Raises ``BundleCorrupt`` before returning if anything is wrong; nothing is yielded from an
    unverified file. Each line of the second pass must hash to what the first pass verified.
    """
    path = Path(path)
    _check_mac_key(mac_key)
    state = _ScanState(line_digests=bytearray())
    try:
        for _ in _scan(path, mac_key, state):
            pass
    except _Corrupt as e:
        raise _corrupt(path, e) from None
    return VerifiedEntries(path, mac_key, state)


# --- writing --------------------------------------------------------------------------------------
class BundleWriter:
    """Stream a bundle to ``path``: write once, atomically, then read back and verify.

    ``OutputExists`` is raised by the constructor, before any work, when ``path`` exists. Entries
    go to a temp file in the same folder; on a clean exit the trailer is written, the file is
    fsynced and linked into place only if ``path`` still does not exist, then read back and
    verified against the MAC and the SHA-256 computed while writing. If the ``with`` body raises,
    or anything fails, nothing is left behind. ``result`` (with the file's SHA-256) is set after
    the ``with`` block. Memory does not grow with the number of keys.
    """

    def __init__(self, path: Path, header: BundleHeader, mac_key: Secret) -> None:
        self.path = Path(path)
        refuse_existing(self.path)  # before anything else, as promised
        check_folder(self.path)
        if not isinstance(header, BundleHeader):
            raise TypeError("header must be a BundleHeader")
        _check_mac_key(mac_key)
        self.header = header
        self._mac_key = mac_key
        self._out: WriteOnceFile | None = None
        self._count = 0
        self._metadata_count = 0
        self._mac: Any = None
        self._sha: Any = None
        self._size = 0
        self.result: BundleWritten | None = None

    def __enter__(self) -> "BundleWriter":
        if self._out is not None or self.result is not None:
            raise RuntimeError("a BundleWriter writes one bundle once")
        self._out = WriteOnceFile(self.path)
        self._mac = hmac.new(self._mac_key.reveal(), digestmod="sha256")
        self._sha = sha256()
        try:
            self._write(encode_line(self.header.to_dict()), mac=True)
        except BaseException:
            self._out.discard()
            raise
        return self

    @property
    def count(self) -> int:
        """Entries added so far."""
        return self._count

    def add(self, entry: KeyEntry) -> None:
        if self._out is None or self.result is not None:
            raise RuntimeError("add() only inside the BundleWriter's with block")
        if not isinstance(entry, KeyEntry):
            raise TypeError("entry must be a KeyEntry")
        if self._count >= self.header.key_count:
            raise ValueError(f"the header announces {self.header.key_count} keys; this would be one more")
        self._write(encode_line(entry.to_dict(self._count)), mac=True)
        self._count += 1

    def add_metadata(self, sealed: bytes) -> None:
        """One sealed metadata chunk (vault.backup.metadata), after every key (version 2 and later)."""
        if self._out is None or self.result is not None:
            raise RuntimeError("add_metadata() only inside the BundleWriter's with block")
        if not self.header.has_metadata:
            raise ValueError("a version 1 bundle carries no metadata")
        if self._count != self.header.key_count:
            raise ValueError("the metadata follows the last key")
        if not isinstance(sealed, bytes) or len(sealed) < 28:
            raise TypeError("sealed must be the bytes of a sealed chunk")
        body = {"type": "metadata", "index": self._metadata_count, "sealed": base64.b64encode(sealed).decode("ascii")}
        self._write(encode_line(body), mac=True)
        self._metadata_count += 1

    def add_all(self, entries: Iterable[KeyEntry]) -> None:
        for entry in entries:
            self.add(entry)

    def _write(self, data: bytes, *, mac: bool) -> None:
        assert self._out is not None
        try:
            self._out.file.write(data)
        except OSError as e:
            raise output_failed(self.path, "Writing", e) from None
        if mac:
            self._mac.update(data)
        self._sha.update(data)
        self._size += len(data)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        out = self._out
        assert out is not None
        if exc_type is not None:
            out.discard()
            return
        try:
            if self._count != self.header.key_count:
                raise ValueError(
                    f"the header announces {self.header.key_count} keys but {self._count} were added; "
                    "nothing was written"
                )
            trailer = {"type": "trailer", "key_count": self._count, "mac": self._mac.hexdigest()}
            if self.header.has_metadata:
                trailer["metadata_count"] = self._metadata_count
            self._write(encode_line(trailer), mac=False)
            out.publish()
            self._read_back()
        except BaseException:
            out.discard()
            raise
        self.result = BundleWritten(str(self.path), self._sha.hexdigest(), self._size, self._count)

    def _read_back(self) -> None:
        state = _ScanState()
        try:
            for _ in _scan(self.path, self._mac_key, state):
                pass  # streamed: read-back memory does not grow with the key count
        except (_Corrupt, VaultError) as e:
            what = f"line {e.line} {e.what}" if isinstance(e, _Corrupt) else e.message
            raise OutputWriteFailed(
                f"Reading back {self.path} found a problem ({what}); the file was removed.",
                next_step="Check or replace the medium, then write the backup again.",
            ) from None
        if state.sha256 != self._sha.hexdigest():
            raise OutputWriteFailed(
                f"Reading back {self.path} gave different bytes from those written; the file was removed.",
                next_step="Check or replace the medium, then write the backup again.",
            )


def write_bundle(path: Path, header: BundleHeader, entries: Iterable[KeyEntry], mac_key: Secret) -> BundleWritten:
    """Convenience: one call that writes, publishes and verifies a bundle."""
    writer = BundleWriter(path, header, mac_key)
    with writer:
        writer.add_all(entries)
    assert writer.result is not None
    return writer.result
