"""Bulk paths over whole tokens: one pass, memory that does not grow with the key count.

Why ctypes here: python-pkcs11 turns every handle a search returns into an ``Object`` by
reading ten attributes (two ``C_GetAttributeValue`` calls) and building a new Python class for
it (about 1-2 KB each), and every ``get_attributes`` is two more calls. On the practice token's file
backend one ``C_GetAttributeValue`` costs about 70 us on a token of 10,000 objects, so a walk
that reads three attributes costs four calls per object through python-pkcs11 and one here.
These few calls (``C_FindObjects*``, ``C_GetAttributeValue``, ``C_WrapKey``,
``C_DestroyObject``) go through ctypes on the handle python-pkcs11 already initialised (the
same ``dlopen`` handle, as for ``C_InitToken``), on the session python-pkcs11 opened. Callers
hold :data:`vault.hsm.module.HSM_LOCK`, as for every other PKCS#11 call.

:class:`HandleTable` is the compact index one walk builds: a 64-bit hash of
(kind, label, CKA_ID) -> object handle, in two ``array('Q')`` with open addressing (32 bytes
per object at most, no Python object per entry). Two objects with the same kind, label and
CKA_ID are remembered as :data:`HandleTable.DUPLICATE`. A 64-bit hash collision between a
wanted key and another object is possible in principle (about n / 2**64 per lookup); a wrong
object would then fail the test unwrap, which compares every blob with the recorded
fingerprint.
"""

from __future__ import annotations

import ctypes
import hashlib
import sys
from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from pkcs11 import Attribute as A
from pkcs11 import ObjectClass

from vault.hsm.errors import check_rv

CK_ULONG = ctypes.c_ulong
CK_UNAVAILABLE_INFORMATION = (1 << (8 * ctypes.sizeof(CK_ULONG))) - 1
CKR_OK = 0x00
CKR_ATTRIBUTE_SENSITIVE = 0x11
CKR_ATTRIBUTE_TYPE_INVALID = 0x12
CKR_BUFFER_TOO_SMALL = 0x150

#: Objects per C_FindObjects call.
FIND_BATCH = 256

#: Kinds of entries in a HandleTable.
SECRET_PART = 0  # CKO_SECRET_KEY or CKO_PRIVATE_KEY: what a backup wraps
PUBLIC_PART = 1  # CKO_PUBLIC_KEY
LABEL_ONLY = 2  # any object, by label alone (label clash checks)


class CK_ATTRIBUTE(ctypes.Structure):
    _fields_ = [("type", CK_ULONG), ("pValue", ctypes.c_void_p), ("ulValueLen", CK_ULONG)]


class CK_MECHANISM(ctypes.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", ctypes.c_void_p), ("ulParameterLen", CK_ULONG)]


_PROTOTYPES: dict[str, list[Any]] = {
    "C_FindObjectsInit": [CK_ULONG, ctypes.POINTER(CK_ATTRIBUTE), CK_ULONG],
    "C_FindObjects": [CK_ULONG, ctypes.POINTER(CK_ULONG), CK_ULONG, ctypes.POINTER(CK_ULONG)],
    "C_FindObjectsFinal": [CK_ULONG],
    "C_GetAttributeValue": [CK_ULONG, CK_ULONG, ctypes.POINTER(CK_ATTRIBUTE), CK_ULONG],
    "C_WrapKey": [CK_ULONG, ctypes.POINTER(CK_MECHANISM), CK_ULONG, CK_ULONG, ctypes.c_char_p,
                  ctypes.POINTER(CK_ULONG)],
    "C_DestroyObject": [CK_ULONG, CK_ULONG],
}  # fmt: skip
_FUNCTIONS: dict[int, dict[str, Any]] = {}


def _functions(dll: ctypes.CDLL) -> dict[str, Any]:
    """Private prototypes (``dll[name]`` makes a new function object: the shared ones used
    elsewhere in vault.hsm keep their own argtypes)."""
    funcs = _FUNCTIONS.get(id(dll))
    if funcs is None:
        funcs = {}
        for name, argtypes in _PROTOTYPES.items():
            fn = dll[name]
            fn.argtypes = argtypes
            fn.restype = CK_ULONG
            funcs[name] = fn
        _FUNCTIONS[id(dll)] = funcs
    return funcs


def ident_hash(kind: int, label: str | bytes, key_id: bytes = b"") -> int:
    """64-bit hash of (kind, label, CKA_ID), never 0 (0 marks an empty slot)."""
    raw = label.encode("utf-8") if isinstance(label, str) else label
    digest = hashlib.blake2b(
        bytes((kind,)) + len(raw).to_bytes(4, "big") + raw + key_id, digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") or 1


class HandleTable:
    """Open-addressing hash table: 64-bit ident hash -> object handle, in two ``array('Q')``."""

    DUPLICATE = (1 << 64) - 1

    __slots__ = ("_keys", "_values", "_mask", "_count")

    def __init__(self, capacity: int = 1024) -> None:
        size = 16
        while size < 2 * capacity:
            size *= 2
        self._keys = array("Q", bytes(8 * size))
        self._values = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return (len(self._keys) + len(self._values)) * 8

    def put(self, h: int, handle: int) -> None:
        """Remember ``handle`` under ``h``; a second handle under the same ``h`` marks it DUPLICATE."""
        if 2 * (self._count + 1) > len(self._keys):
            self._grow()
        keys, mask = self._keys, self._mask
        i = h & mask
        while True:
            k = keys[i]
            if k == 0:
                keys[i] = h
                self._values[i] = handle
                self._count += 1
                return
            if k == h:
                if self._values[i] != handle:
                    self._values[i] = self.DUPLICATE
                return
            i = (i + 1) & mask

    def get(self, h: int) -> int | None:
        keys, mask = self._keys, self._mask
        i = h & mask
        while True:
            k = keys[i]
            if k == 0:
                return None
            if k == h:
                return self._values[i]
            i = (i + 1) & mask

    def __contains__(self, h: int) -> bool:
        return self.get(h) is not None

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = 2 * len(old_keys)
        self._keys = array("Q", bytes(8 * size))
        self._values = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0
        for k, v in zip(old_keys, old_values):
            if k:
                self._reinsert(k, v)

    def _reinsert(self, h: int, value: int) -> None:
        keys, mask = self._keys, self._mask
        i = h & mask
        while keys[i]:
            i = (i + 1) & mask
        keys[i] = h
        self._values[i] = value
        self._count += 1


def _pack(value: Any) -> bytes:
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return int(value).to_bytes(ctypes.sizeof(CK_ULONG), sys.byteorder)
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


class RawSession:
    """The bulk calls on one open python-pkcs11 session (callers hold HSM_LOCK)."""

    def __init__(self, dll: ctypes.CDLL, session_handle: int) -> None:
        self._f = _functions(dll)
        self._handle = session_handle
        self._wrap_buffer: Any = None

    # --- search ------------------------------------------------------------------------------
    def find(self, template: dict[A, Any] | None = None, batch: int = FIND_BATCH) -> Iterator[Sequence[int]]:
        """Handles of the matching objects, ``batch`` at a time, in one search. Attribute reads
        between batches are allowed (PKCS#11 object management is not an operation)."""
        packed = [(int(attr), _pack(value)) for attr, value in (template or {}).items()]
        buffers = [ctypes.create_string_buffer(data, max(1, len(data))) for _, data in packed]
        tpl = (CK_ATTRIBUTE * max(1, len(packed)))()
        for i, ((attr, data), buf) in enumerate(zip(packed, buffers)):
            tpl[i].type, tpl[i].pValue, tpl[i].ulValueLen = attr, ctypes.addressof(buf), len(data)
        f = self._f
        check_rv(f["C_FindObjectsInit"](self._handle, tpl, len(packed)), "C_FindObjectsInit")
        try:
            found = (CK_ULONG * batch)()
            count = CK_ULONG()
            while True:
                check_rv(f["C_FindObjects"](self._handle, found, batch, ctypes.byref(count)), "C_FindObjects")
                if not count.value:
                    return
                yield found[: count.value]
        finally:
            f["C_FindObjectsFinal"](self._handle)

    def reader(self, attributes: Sequence[tuple[A, int]]) -> "AttributeReader":
        """A reader of ``attributes`` ((attribute, expected size) pairs) with buffers made once."""
        return AttributeReader(self._f["C_GetAttributeValue"], self._handle, attributes)

    # --- wrap / destroy ----------------------------------------------------------------------
    def wrap(self, kek: int, key: int, mechanism: int, size_hint: int = 4096) -> bytes:
        """C_WrapKey into a buffer of ``size_hint`` bytes, made once (asks the size first only
        when a blob does not fit: an RSA-4096 private key wraps to about 2.4 KB)."""
        mech = CK_MECHANISM(mechanism, None, 0)
        length = CK_ULONG(size_hint)
        if self._wrap_buffer is None or len(self._wrap_buffer) != size_hint:
            self._wrap_buffer = ctypes.create_string_buffer(size_hint)
        buf = self._wrap_buffer
        rv = self._f["C_WrapKey"](self._handle, ctypes.byref(mech), kek, key, buf, ctypes.byref(length))
        if rv == CKR_BUFFER_TOO_SMALL:
            length = CK_ULONG(0)
            check_rv(self._f["C_WrapKey"](self._handle, ctypes.byref(mech), kek, key, None, ctypes.byref(length)),
                     "C_WrapKey")  # fmt: skip
            buf = ctypes.create_string_buffer(length.value)
            rv = self._f["C_WrapKey"](self._handle, ctypes.byref(mech), kek, key, buf, ctypes.byref(length))
        check_rv(rv, "C_WrapKey")
        return ctypes.string_at(buf, length.value)

    def destroy(self, handle: int) -> None:
        check_rv(self._f["C_DestroyObject"](self._handle, handle), "C_DestroyObject")


class AttributeReader:
    """C_GetAttributeValue of a fixed attribute list: one call per object when the object has
    every attribute and the buffers fit, else three (lengths, then values).

    ``read(handle)`` returns one value per attribute: ``bytes`` (the raw value), or ``None``
    when the object has no such attribute or it is sensitive. ``CKA_CLASS`` and other CK_ULONG
    attributes come back as raw bytes too; see :func:`ulong`.
    """

    def __init__(self, fn: Any, session_handle: int, attributes: Sequence[tuple[A, int]]) -> None:
        self._fn = fn
        self._session = session_handle
        self._types = [int(a) for a, _ in attributes]
        self._buffers = [ctypes.create_string_buffer(size) for _, size in attributes]
        self._addresses = [ctypes.addressof(b) for b in self._buffers]
        self._sizes = [size for _, size in attributes]
        self._tpl = (CK_ATTRIBUTE * len(attributes))()

    def read(self, handle: int) -> list[bytes | None]:
        tpl, n = self._tpl, len(self._types)
        for i in range(n):
            entry = tpl[i]
            entry.type, entry.pValue, entry.ulValueLen = self._types[i], self._addresses[i], self._sizes[i]
        rv = self._fn(self._session, handle, tpl, n)
        if rv != CKR_OK:
            # A value may be missing because the object lacks it, because it is sensitive, or
            # because its buffer was too small, and a module may report any one of those
            # codes when several apply (the practice token reports TYPE_INVALID over BUFFER_TOO_SMALL):
            # ask for the lengths, then read what is there.
            if rv in (CKR_BUFFER_TOO_SMALL, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID):
                return self._read_sized(handle)
            check_rv(rv, "C_GetAttributeValue")
        out: list[bytes | None] = []
        for i in range(n):
            length = tpl[i].ulValueLen
            out.append(None if length == CK_UNAVAILABLE_INFORMATION else ctypes.string_at(self._addresses[i], length))
        return out

    def _read_sized(self, handle: int) -> list[bytes | None]:
        """Two calls: the lengths, then the available values into buffers of those lengths."""
        n = len(self._types)
        probe = (CK_ATTRIBUTE * n)()
        for i in range(n):
            probe[i].type, probe[i].pValue, probe[i].ulValueLen = self._types[i], None, 0
        rv = self._fn(self._session, handle, probe, n)
        if rv not in (CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID):
            check_rv(rv, "C_GetAttributeValue")
        out: list[bytes | None] = [None] * n
        available = [i for i in range(n) if probe[i].ulValueLen != CK_UNAVAILABLE_INFORMATION]
        if not available:
            return out
        tpl = (CK_ATTRIBUTE * len(available))()
        buffers = []
        for j, i in enumerate(available):
            buf = ctypes.create_string_buffer(max(1, probe[i].ulValueLen))
            buffers.append(buf)
            tpl[j].type, tpl[j].pValue, tpl[j].ulValueLen = self._types[i], ctypes.addressof(buf), probe[i].ulValueLen
        rv = self._fn(self._session, handle, tpl, len(available))
        if rv not in (CKR_OK, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID):
            check_rv(rv, "C_GetAttributeValue")
        for j, i in enumerate(available):
            length = tpl[j].ulValueLen
            out[i] = None if length == CK_UNAVAILABLE_INFORMATION else buffers[j].raw[:length]
        return out


def ulong(raw: bytes | None) -> int | None:
    return None if raw is None else int.from_bytes(raw, sys.byteorder)


#: (attribute, buffer size) read for every object of a walk.
IDENT_ATTRIBUTES: tuple[tuple[A, int], ...] = ((A.CLASS, ctypes.sizeof(CK_ULONG)), (A.LABEL, 256), (A.ID, 256))
#: What a public key (or an RSA private key) exposes of its public value, per key family: one
#: call per object when every attribute is there (a missing one costs two more calls).
EC_PUBLIC_ATTRIBUTES: tuple[tuple[A, int], ...] = ((A.EC_POINT, 256),)
RSA_PUBLIC_ATTRIBUTES: tuple[tuple[A, int], ...] = ((A.MODULUS, 1024), (A.PUBLIC_EXPONENT, 16))

_KINDS = {int(ObjectClass.SECRET_KEY): SECRET_PART, int(ObjectClass.PRIVATE_KEY): SECRET_PART,
          int(ObjectClass.PUBLIC_KEY): PUBLIC_PART}  # fmt: skip


def index_keys(raw: RawSession, template: dict[A, Any]) -> HandleTable:
    """One pass over the matching objects: (secret or private part | public part, label, CKA_ID) -> handle."""
    table = HandleTable()
    reader = raw.reader(IDENT_ATTRIBUTES)
    for handles in raw.find(template):
        for handle in handles:
            cls, label, key_id = reader.read(handle)
            kind = _KINDS.get(ulong(cls))  # type: ignore[arg-type]
            if kind is not None:
                table.put(ident_hash(kind, label or b"", key_id or b""), handle)
    return table


def index_labels(raw: RawSession, template: dict[A, Any] | None = None) -> HandleTable:
    """One pass: the label of every matching object (set semantics; the value is a handle)."""
    table = HandleTable()
    reader = raw.reader(((A.LABEL, 256),))
    for handles in raw.find(template or {}):
        for handle in handles:
            (label,) = reader.read(handle)
            if label is not None:
                table.put(ident_hash(LABEL_ONLY, label), handle)
    return table
