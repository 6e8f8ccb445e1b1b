"""Format 2: the sealed vault metadata after the key lines (docs/backup-format.md, section 3a).

The sealing (vault.backup.metadata) and the lines that carry it (vault.backup.format), each
problem named; version 1 bundles still read.
"""

from __future__ import annotations

import hmac
import json
import os

import pytest
from bundle_builders import make_entry, make_header

from vault.backup.format import (BundleWriter, encode_line, inspect_bundle, iter_verified_entries, verify_bundle,
                                 write_bundle)
from vault.backup.metadata import CHUNK_BYTES, MetadataUnreadable, open_records, seal_records
from vault.errors import BundleCorrupt
from vault.secret import Secret

RECORDS = [{"snapshot": 1, "schema_version": 5, "ledger_seq": 3}, {"table": "t", "columns": ["a"]},
           *([i, "text ✓", None, {"b64": "AAEC"}] for i in range(2000)), {"end": {"tables": 1, "rows": 2000}}]


@pytest.fixture
def metadata_key() -> Secret:
    return Secret(os.urandom(32), "backup-metadata-key")


def v2_header(n: int):
    return make_header(n, format_version=2, ledger_seq=3, ledger_head="ab" * 32)


def write_v2(path, mac_key, metadata_key, records=RECORDS, n=3):
    writer = BundleWriter(path, v2_header(n), mac_key)
    with writer:
        writer.add_all(make_entry(i) for i in range(n))
        for chunk in seal_records(metadata_key, records, layout=2):
            writer.add_metadata(chunk)
    return writer.result


def test_records_seal_and_open_in_order(metadata_key):
    noisy = RECORDS + [{"blob": os.urandom(3 * CHUNK_BYTES).hex()}]  # incompressible: several chunks
    chunks = list(seal_records(metadata_key, noisy))
    assert len(chunks) > 3 and all(len(c) <= CHUNK_BYTES + 28 for c in chunks)
    assert list(open_records(metadata_key, chunks)) == json.loads(json.dumps(noisy))


@pytest.mark.parametrize("damage, phrase", [
    (lambda cs: cs[::-1], "does not open"),  # chunks moved
    (lambda cs: cs[:-1], "cut off"),  # the last chunk removed
    (lambda cs: [cs[0][:-1] + bytes([cs[0][-1] ^ 1]), *cs[1:]], "does not open"),  # one bit
])
def test_damaged_or_moved_chunks_are_refused(metadata_key, damage, phrase):
    chunks = list(seal_records(metadata_key, RECORDS + [{"blob": os.urandom(CHUNK_BYTES).hex()}]))
    with pytest.raises(MetadataUnreadable, match=phrase):
        list(open_records(metadata_key, damage(chunks)))


def test_another_quorum_cannot_open_them(metadata_key):
    chunks = list(seal_records(metadata_key, RECORDS))
    with pytest.raises(MetadataUnreadable, match="does not open"):
        list(open_records(Secret(os.urandom(32)), chunks))


def test_a_v2_bundle_carries_the_metadata_under_its_mac(tmp_path, mac_key, metadata_key):
    path = tmp_path / "v2.ccb"
    write_v2(path, mac_key, metadata_key)
    verified = iter_verified_entries(path, mac_key)
    assert verified.header.format_version == 2 and verified.header.ledger_seq == 3
    assert [e.label for e in verified] == [make_entry(i).label for i in range(3)]
    assert list(open_records(metadata_key, verified.metadata_chunks(), layout=2)) == json.loads(json.dumps(RECORDS))
    assert len(inspect_bundle(path).entries) == 3
    lines = path.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[-1])["metadata_count"] == len(lines) - 5


def test_a_v1_bundle_still_reads_and_has_no_metadata(tmp_path, mac_key):
    path = tmp_path / "v1.ccb"
    write_bundle(path, make_header(2), [make_entry(0), make_entry(1)], mac_key)
    verified = iter_verified_entries(path, mac_key)
    assert verified.header.format_version == 1 and not verified.header.has_metadata
    assert list(verified.metadata_chunks()) == []


def _remac(path, mac_key, edit) -> None:
    objs = [json.loads(x) for x in path.read_bytes().splitlines()]
    for o in objs:
        del o["check"]
    objs = edit(objs)
    body = b"".join(encode_line(o) for o in objs[:-1])
    objs[-1]["mac"] = hmac.new(mac_key.reveal(), body, "sha256").hexdigest()
    path.write_bytes(body + encode_line(objs[-1]))


@pytest.mark.parametrize("edit, phrase", [
    (lambda o: o[:4] + o[5:6] + o[4:5] + o[6:], "metadata index 1 where 0 was expected"),
    (lambda o: o[:4] + o[5:], "metadata index 1 where 0 was expected"),
    (lambda o: o[:-1] + [{**o[-1], "metadata_count": 99}], "metadata_count 99"),
    (lambda o: o[:3] + o[4:5] + o[3:4] + o[5:], "metadata line before the last key line"),
    (lambda o: [{k: v for k, v in o[0].items() if k not in ("ledger_seq", "ledger_head")} | {"format_version": 1}]
     + o[1:-1] + [{k: v for k, v in o[-1].items() if k != "metadata_count"}], "unknown type 'metadata'"),
])
def test_metadata_lines_out_of_place_are_named(tmp_path, mac_key, metadata_key, edit, phrase):
    path = tmp_path / "v2.ccb"
    write_v2(path, mac_key, metadata_key, RECORDS + [{"blob": os.urandom(2 * CHUNK_BYTES).hex()}])
    _remac(path, mac_key, edit)
    with pytest.raises(BundleCorrupt, match=phrase):
        verify_bundle(path, mac_key)


def test_the_writer_puts_metadata_only_after_every_key_of_a_v2_bundle(tmp_path, mac_key, metadata_key):
    chunk = next(seal_records(metadata_key, RECORDS))
    writer = BundleWriter(tmp_path / "a.ccb", v2_header(2), mac_key)
    with pytest.raises(ValueError, match="follows the last key"):
        with writer:
            writer.add(make_entry(0))
            writer.add_metadata(chunk)
    writer = BundleWriter(tmp_path / "b.ccb", make_header(1), mac_key)
    with pytest.raises(ValueError, match="version 1"):
        with writer:
            writer.add(make_entry(0))
            writer.add_metadata(chunk)
    assert not list(tmp_path.iterdir())
