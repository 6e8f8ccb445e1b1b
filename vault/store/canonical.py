"""Canonical JSON: the one encoding of the non-secret JSON the store keeps and the ledger hashes.

Sorted keys, compact separators, UTF-8 (no ASCII escaping), no NaN/Infinity: exactly
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``.
Tuples become arrays and enum members their value. A ``vault.secret.Secret`` anywhere in the
value is refused with ``TypeError`` (its repr is redacted anyway; refusing makes the mistake
loud), as is any other value JSON cannot represent. Non-string keys follow ``json`` (ints become
strings).
"""

from __future__ import annotations

import enum
import json
import threading
from json.encoder import encode_basestring
from typing import Any

from vault.secret import Secret

try:  # the C encoder json.dumps uses, built per call without json.dumps' Python layers
    from _json import make_encoder as _c_make_encoder
except ImportError:  # pragma: no cover - CPython always has it
    _c_make_encoder = None

_OPTIONS = dict(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _refuse(value: Any) -> Any:
    # json calls this only for values it cannot encode itself, so the common path stays in C.
    if isinstance(value, Secret):
        raise TypeError("a Secret cannot be written to the database or the ledger")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-safe; pass str, int, float, bool, None, list or dict")


def _dumps_reference(value: Any) -> str:
    return json.dumps(value, default=_refuse, **_OPTIONS)


_local = threading.local()  # one C encoder per thread (its circular-reference markers are per call)


def _new_encoder() -> Any:
    # Same arguments, in the same order, as json.JSONEncoder.iterencode passes for these options.
    return _c_make_encoder({}, _refuse, encode_basestring, None, ":", ",", True, False, False)


def _dumps_fast(value: Any) -> str:
    # The encoder is reused: making one costs about as much as encoding a small dict. After a
    # successful call its markers dict is empty again; after a failure it may not be: drop it.
    encoder = getattr(_local, "encoder", None) or _new_encoder()
    _local.encoder = None
    result = "".join(encoder(value, 0))
    _local.encoder = encoder
    return result


def _fast_path_agrees() -> bool:
    sample = {"b": [1, 2.5, None, True, "x\n\"é\u2028"], "a": {"z": -0.0, "y": 10**30}, "é": ""}
    try:
        return _c_make_encoder is not None and _dumps_fast(sample) == _dumps_reference(sample)
    except Exception:  # a future CPython changed make_encoder's signature
        return False


_dumps = _dumps_fast if _fast_path_agrees() else _dumps_reference


def canonical_json(value: Any) -> str:
    """The canonical text of ``value``; TypeError for a Secret or a non-JSON value, ValueError for NaN."""
    text = canonical_json_unchecked(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise surrogate_error() from None
    return text


def canonical_json_unchecked(value: Any) -> str:
    """``canonical_json`` without the UTF-8 check, for callers that encode the text to UTF-8
    anyway (the ledger hashes it) and raise :func:`surrogate_error` when that fails."""
    try:
        return _dumps(value)
    except ValueError as exc:  # NaN/Infinity, circular reference
        raise ValueError(f"value is not canonical JSON: {exc}") from None


def surrogate_error() -> ValueError:
    return ValueError("value contains a lone surrogate and cannot be stored as UTF-8")
