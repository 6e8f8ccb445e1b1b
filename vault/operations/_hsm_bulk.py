"""Bulk HSM steps the operations need, over vault.hsm's public API.

SoftHSM searches linearly (tens of µs per object per search), so anything done key by key
with a search costs O(n²) on a large token. ``vault.hsm`` already offers one-pass
``list_keys``/``wrap_many``/``unwrap_many``; two bulk steps are not in its API yet:

* the public keys of many pairs (``HsmSession.public_keys_pem``), and
* test-unwrapping blobs into session objects that are destroyed by handle at once
  (``HsmSession.check_unwrap_many``) — destroying a scratch copy through ``destroy()``
  costs two searches per key.

When the session offers them they are used; otherwise the per-key public API is used, which
is correct but slow on tokens with thousands of objects. Scratch copies get their own label
and CKA_ID, so that destroying one can never touch the original key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

from vault.hsm import HsmSession, KeyObject, WrappingKey
from vault.operations._common import destroy_quietly

SCRATCH_PREFIX = "vault-scratch-"
BATCH = 256

Item = tuple[KeyObject, bytes, bytes | None]  # (key, RFC 5649 blob, SPKI DER of a pair)


def public_keys_pem(session: HsmSession, keys: Iterable[KeyObject]) -> dict[tuple[str, str], str]:
    """(label, key_id) -> PEM SubjectPublicKeyInfo of every key pair in ``keys``."""
    pairs = [k for k in keys if k.algorithm.is_key_pair]
    bulk = getattr(session, "public_keys_pem", None)
    if bulk is not None:
        found = bulk(pairs)
        return {(k.label, k.key_id): found[k.label] for k in pairs}
    return {(k.label, k.key_id): session.public_key_pem(k) for k in pairs}


def check_unwraps(session: HsmSession, wkey: WrappingKey, items: Iterable[Item]) -> int:
    """Unwrap every blob into a session object, check it (KCV / SPKI fingerprint and a
    signature), destroy it. Raises on the first blob that fails; nothing is left behind."""
    bulk = getattr(session, "check_unwrap_many", None)
    count = 0
    for batch in _batches(items, BATCH):
        if bulk is not None:
            bulk(wkey, batch)
        else:
            _check_batch(session, wkey, batch)
        count += len(batch)
    return count


def _check_batch(session: HsmSession, wkey: WrappingKey, batch: list[Item]) -> None:
    run = os.urandom(4).hex()
    scratch = [
        (dataclasses.replace(key, label=f"{SCRATCH_PREFIX}{run}-{i}", key_id=f"{run}{i:08x}"), blob, der)
        for i, (key, blob, der) in enumerate(batch)
    ]
    made = session.unwrap_many(wkey, scratch, store=False)  # all-or-nothing, checks each key
    try:
        for (key, _, _), copy in zip(batch, made):
            if copy.fingerprint != key.fingerprint:
                from vault.errors import HsmCheckFailed

                raise HsmCheckFailed(f"The test unwrap of {key.label!r} gave {copy.fingerprint}, not {key.fingerprint}.")
    finally:
        for copy in made:
            destroy_quietly(session, copy)


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
