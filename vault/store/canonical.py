"""Canonical JSON: the one encoding of the non-secret JSON the store keeps and the ledger hashes.

Sorted keys, compact separators, UTF-8 (no ASCII escaping), no NaN/Infinity. Tuples become
arrays and enum members their value. A ``vault.secret.Secret`` anywhere in the value is refused
with ``TypeError`` (its repr is redacted anyway; refusing makes the mistake loud), as is any
other value JSON cannot represent. Non-string keys follow ``json`` (ints become strings).
"""

from __future__ import annotations

import enum
import json
from typing import Any

from vault.secret import Secret

_ENCODER_OPTIONS = dict(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _refuse(value: Any) -> Any:
    # json calls this only for values it cannot encode itself, so the common path stays in C.
    if isinstance(value, Secret):
        raise TypeError("a Secret cannot be written to the database or the ledger")
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON-safe; pass str, int, float, bool, None, list or dict")


def canonical_json(value: Any) -> str:
    """The canonical text of ``value``; TypeError for a Secret or a non-JSON value, ValueError for NaN."""
    try:
        text = json.dumps(value, default=_refuse, **_ENCODER_OPTIONS)
    except ValueError as exc:  # NaN/Infinity, circular reference
        raise ValueError(f"value is not canonical JSON: {exc}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("value contains a lone surrogate and cannot be stored as UTF-8") from None
    return text
