"""The writer streams: its Python memory does not grow with the number of keys.

Measured with tracemalloc peaks (allocation sizes, not time): writing (and reading back)
20,000 entries must peak about as high as 2,000 entries. A writer that kept one small object
per entry would add well over a megabyte at 20,000 entries.
"""

from __future__ import annotations

import os
import tracemalloc

import pytest

from bundle_builders import make_header

from vault.backup.format import BundleWriter, KeyEntry
from vault.secret import Secret
from vault.types import KeyAlgorithm, KeyState

WRAPPED = os.urandom(40)


def _entries(n: int):
    for i in range(n):  # generated lazily, one at a time, like wrap_many
        yield KeyEntry(f"aes-{i}", f"{i:08x}", KeyAlgorithm.AES_256, 1, KeyState.ACTIVE, "kcv:abcdef", None, WRAPPED)


def _peak_writing(path, n: int) -> int:
    key = Secret(os.urandom(32))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        writer = BundleWriter(path, make_header(n), key)
        with writer:
            for entry in _entries(n):
                writer.add(entry)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert writer.result is not None and writer.result.key_count == n
    return peak


@pytest.mark.slow  # ~10 s: tracemalloc slows every allocation
def test_writer_memory_is_flat_from_2000_to_20000_entries(tmp_path):
    small = _peak_writing(tmp_path / "small.ccb", 2_000)
    large = _peak_writing(tmp_path / "large.ccb", 20_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
