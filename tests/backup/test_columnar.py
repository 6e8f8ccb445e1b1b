"""Format 3's compact metadata layout (vault.backup.columnar): blocks of columns give back
exactly the snapshot records that went in, whatever the values, and a malformed block is named.

The exactness matters twice: a ledger event must come back byte for byte (its hash is
recomputed on a rebuild and the chain checked against the bundle's head), and every row must
load into the new database as it was. So each transform the writer applies is checked on
the very value it transforms, and these tests feed it the values that almost fit.
"""

from __future__ import annotations

import json
import lzma
import os

import pytest
from hypothesis import given, settings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import strategies as st

from vault.backup.columnar import BLOCK, decode_column, encode_column, from_columns, to_columns
from vault.backup.metadata import MetadataUnreadable, _aad, open_records, seal_records
from vault.ledger import Ledger
from vault.secret import Secret
from vault.store import Store

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=12),
                    st.floats(allow_nan=False, allow_infinity=False), st.binary(max_size=8))
stamps = st.datetimes().map(lambda d: d.isoformat(timespec="microseconds") + "Z")
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                           max_leaves=8)


def _as_snapshot_json(records):
    """What the records are as JSON (a BLOB is {"b64": ...} there), for comparing."""
    from vault.store.snapshot import _encode

    return [[_encode(v) for v in r] if isinstance(r, (list, tuple)) else r for r in records]


def round_trip(records, block=None):
    encoded = json.loads(json.dumps(list(to_columns(records, block=block))))  # as the stream carries it
    return list(from_columns(encoded))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(scalars, st.one_of(stamps, st.none()), st.integers(), scalars), max_size=40),
       st.integers(1, 7))
def test_any_rows_come_back_exactly(rows, block):
    records = [{"table": "t", "columns": ["a", "b", "c", "d"]}, *rows, {"end": {}}]
    assert round_trip(records, block) == json.loads(json.dumps(_as_snapshot_json(records)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["action", "at", "details", "x"]), json_values), min_size=1,
                max_size=12))
def test_any_ledger_short_rows_come_back_byte_for_byte(events):
    from vault.store.canonical import canonical_json

    rows = [[canonical_json(e)[:-1]] if e else ["{"] for e in events]
    records = [{"table": "ledger", "columns": ["seq", "body"]}, *rows]
    assert round_trip(records) == records


@pytest.mark.parametrize("text", [
    "2026-12-02 13:59:17.397950Z",  # fromisoformat takes a space for the T
    "2026-12-02T13:59:17.397950+00:00",
    "2026-12-02T13:59:17.3979Z",
    "2026-13-02T13:59:17.397950Z",  # no 13th month
    "２026-12-02T13:59:17.397950Z",  # a non-ASCII digit
    "2026-12-02T13:59:17,397950Z",
])
def test_a_timestamp_that_almost_fits_stays_text(text):
    column = ["2026-12-02T13:59:17.397950Z", text, "2026-12-02T13:59:18.000001Z"]
    encoded = encode_column(column)
    assert "t" not in encoded and decode_column(json.loads(json.dumps(encoded)), 3) == column


def test_console_timestamps_become_microsecond_differences():
    column = ["2026-12-02T13:59:17.397950Z", "2026-12-02T13:59:17.398950Z", "0001-01-01T00:00:00.000000Z"]
    encoded = encode_column(column)
    assert encoded["t"][1] == 1000 and decode_column(encoded, 3) == column


@pytest.mark.parametrize("body", [
    '{"action":"a", "actor":"x"',  # a space: not canonical
    '{"actor":"x","action":"a"',  # members out of order
    '{"action":"\\u00e9"',  # an escape the canonical text does not use
    '{"a":1e2',  # a float whose text json would change (100.0)
    '{"action":"a"},{"b":1',  # two objects in one row
])
def test_a_ledger_body_that_would_not_come_back_is_kept_as_it_is(body):
    rows = [['{"action":"ok","actor":"x"'], [body], ['{"action":"ok","actor":"y"']]
    records = [{"table": "ledger", "columns": ["seq", "body"]}, *rows]
    out = list(to_columns(records))
    assert not any(isinstance(r, dict) and "block" in r for r in out)
    assert round_trip(records) == records


def test_a_real_database_round_trips_through_the_sealed_stream(tmp_path):
    store = Store.open(tmp_path / "custodian.db")
    ledger = Ledger(store)
    for i in range(BLOCK + 5):  # more than one block
        ledger.append("test.event", {"i": i, "text": "naïve ✓", "blob_like": "=" * (i % 3)}, actor="tester")
    store.conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB, maybe BLOB)")
    store.conn.executemany("INSERT INTO blobs (data, maybe) VALUES (?, ?)",
                           [(os.urandom(5), None if i % 2 else b"\0") for i in range(7)])
    seq = ledger.head().seq
    expected = list(store.snapshot_records(seq))
    key = Secret(os.urandom(32))
    chunks = list(seal_records(key, store.snapshot_records(seq, blobs=True), layout=3))
    assert list(open_records(key, chunks, layout=3)) == json.loads(json.dumps(expected))
    store.close()
    assert sum(map(len, chunks)) < sum(len(json.dumps(r)) for r in expected) / 10


@pytest.mark.parametrize("block, phrase", [
    ({"block": 2, "cols": [{"i": [1]}]}, "1 values where 2"),
    ({"block": 2, "cols": [{"i": [1, "2"]}]}, "not an integer"),
    ({"block": 2, "cols": [{"q": [1, 2]}]}, "not one of the block layouts"),
    ({"block": 2, "cols": [{"n": [5], "x": {"i": [1]}}]}, "not ascending indices"),
    ({"block": 2, "cols": [{"o": ["b", "a"], "c": [{"v": [1, 2]}, {"v": [1, 2]}], "a": [[], []]}]}, "each member once"),
    ({"block": 2, "cols": [{"o": ["a"], "c": [{"v": [1, 2]}], "a": [[0]]}]}, "absent"),
    ({"block": 0, "cols": []}, "not {block, cols}"),
    ({"block": 2, "events": {"v": [1, 2]}}, "not an object"),
])
def test_a_malformed_block_is_named(block, phrase):
    key = Secret(os.urandom(32))
    stream = lzma.compress(json.dumps(block).encode() + b"\n", format=lzma.FORMAT_XZ)
    nonce = os.urandom(12)
    chunk = nonce + AESGCM(key.reveal()).encrypt(nonce, stream, _aad(0))
    with pytest.raises(MetadataUnreadable, match=phrase):
        list(open_records(key, [chunk], layout=3))


def test_a_layout_2_stream_is_not_read_as_layout_3():
    key = Secret(os.urandom(32))
    chunks = list(seal_records(key, [{"snapshot": 1}], layout=2))
    with pytest.raises(MetadataUnreadable, match="not a valid xz stream"):
        list(open_records(key, chunks, layout=3))
    assert list(open_records(key, chunks, layout=2)) == [{"snapshot": 1}]

