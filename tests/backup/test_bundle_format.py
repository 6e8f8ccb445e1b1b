"""Backup bundle format (vault.backup.format): round trips, every kind of damage, write-once output."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from bundle_builders import make_entry, make_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vault.backup.format import (
    BundleHeader,
    BundleWriter,
    KeyEntry,
    encode_line,
    inspect_bundle,
    iter_verified_entries,
    kek_check_value,
    verify_bundle,
    write_bundle,
)
from vault.errors import BundleCorrupt, OutputExists, OutputWriteFailed
from vault.secret import Secret
from vault.types import KeyAlgorithm, KeyState, Mode


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def _corrupt(path: Path, key: Secret) -> BundleCorrupt:
    with pytest.raises(BundleCorrupt) as info:
        verify_bundle(path, key)
    with pytest.raises(BundleCorrupt):
        iter_verified_entries(path, key)  # refuses before returning: nothing can be yielded
    return info.value


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- round trips ----------------------------------------------------------------------------------
def test_round_trip_of_many_entries(tmp_path, mac_key):
    entries = [make_entry(i) for i in range(300)]
    header = make_header(len(entries))
    path = tmp_path / "b.ccb"
    written = write_bundle(path, header, entries, mac_key)
    assert written.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert written.key_count == 300 and written.size == path.stat().st_size

    report = verify_bundle(path, mac_key)
    assert report.header == header and report.sha256 == written.sha256
    assert report.keys == tuple(e.summary for e in entries)
    verified = iter_verified_entries(path, mac_key)
    assert verified.header == header
    assert list(verified) == entries
    contents = inspect_bundle(path)
    assert contents.entries == tuple(entries) and contents.header == header
    assert _leftovers(tmp_path) == ["b.ccb"]


def test_every_line_is_canonical_ascii_json_with_its_check(small_bundle):
    path, _ = small_bundle
    for raw in _lines(path):
        assert raw.endswith(b"\n") and raw.isascii()
        obj = json.loads(raw)
        check = obj.pop("check")
        assert check == hashlib.sha256(
            json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()[:16]
    first, last = json.loads(_lines(path)[0]), json.loads(_lines(path)[-1])
    assert first["magic"] == "custodian-backup" and first["format_version"] == 1
    assert first["wrap_mechanism"] == "RFC5649" and first["mode"] == "practice"
    assert last["type"] == "trailer" and last["key_count"] == 4


def test_trailer_mac_is_hmac_sha256_over_every_preceding_byte(small_bundle, mac_key):
    import hmac

    path, _ = small_bundle
    lines = _lines(path)
    expected = hmac.new(mac_key.reveal(), b"".join(lines[:-1]), "sha256").hexdigest()
    assert json.loads(lines[-1])["mac"] == expected


def test_empty_bundle_round_trips(tmp_path, mac_key):
    path = tmp_path / "empty.ccb"
    write_bundle(path, make_header(0), [], mac_key)
    assert list(iter_verified_entries(path, mac_key)) == []


def test_kek_check_value_is_the_standard_aes_kcv():
    # AES-256 of the zero block under the all-zero key starts dc95c0 (FIPS-197 style KCV).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = bytes(range(32))
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert kek_check_value(Secret(key)) == enc.update(bytes(16))[:3].hex()
    assert kek_check_value(Secret(bytes(32))) == "dc95c0"


_label_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
)
_entries = st.lists(
    st.builds(
        KeyEntry,
        label=_label_text,
        cka_id=st.binary(min_size=1, max_size=20).map(bytes.hex),
        algorithm=st.just(KeyAlgorithm.AES_256),
        version=st.integers(1, 10**6),
        state=st.sampled_from(list(KeyState)),
        fingerprint=st.binary(min_size=3, max_size=3).map(lambda b: "kcv:" + b.hex()),
        public_key_pem=st.none(),
        wrapped=st.integers(2, 40).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n)),
    )
    | st.integers(0, 10**6).map(lambda i: make_entry(3 * i + 1)),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=_entries,
    ceremony_id=_label_text,
    share_set_id=st.integers(0, 2**40),
    identifier=st.integers(0, 2**15 - 1),
    kcv=st.binary(min_size=3, max_size=3).map(bytes.hex),
    mode=st.sampled_from(list(Mode)),
)
def test_hypothesis_round_trip(entries, ceremony_id, share_set_id, identifier, kcv, mode):
    header = BundleHeader(ceremony_id, share_set_id, identifier, kcv, len(entries), mode, "2030-12-31T23:59:59Z")
    key = Secret(os.urandom(32))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.ccb"
        write_bundle(path, header, entries, key)
        verified = iter_verified_entries(path, key)
        assert verified.header == header
        assert list(verified) == entries


# --- damage ---------------------------------------------------------------------------------------
def test_every_single_bit_flip_is_detected_on_its_line(small_bundle, mac_key):
    path, _ = small_bundle
    original = path.read_bytes()
    line_of = []
    for n, raw in enumerate(original.splitlines(keepends=True), start=1):
        line_of += [n] * len(raw)
    for pos in range(len(original)):
        bit = pos % 8  # every byte, each bit position in turn (all 8 per byte would take 8x longer)
        damaged = bytearray(original)
        damaged[pos] ^= 1 << bit
        path.write_bytes(bytes(damaged))
        with pytest.raises(BundleCorrupt) as info:
            verify_bundle(path, mac_key)
        assert info.value.line == line_of[pos], (pos, bit, str(info.value))
    path.write_bytes(original)
    verify_bundle(path, mac_key)


def test_every_truncation_is_detected(small_bundle, mac_key):
    path, _ = small_bundle
    original = path.read_bytes()
    for size in range(len(original)):
        path.write_bytes(original[:size])
        with pytest.raises(BundleCorrupt) as info:
            verify_bundle(path, mac_key)
        message = str(info.value)
        assert "truncated" in message or "empty" in message, message


def _reindexed(raw: bytes, index: int) -> bytes:
    obj = json.loads(raw)
    obj.pop("check")
    obj["index"] = index
    return encode_line(obj)


@pytest.mark.parametrize(
    ("edit", "line", "phrase"),
    [
        (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, "key index 1 where 0 was expected"),
        (lambda ls: [*ls[:3], ls[2], *ls[3:]], 4, "key index 1 where 2 was expected"),
        (lambda ls: [ls[0], ls[1], *ls[3:]], 3, "key index 2 where 1 was expected"),
        (lambda ls: [*ls[:4], ls[5]], 5, "follows 3 key lines but the header announces 4"),
        (lambda ls: [*ls[:5], ls[4], ls[5]], 6, "key index 3 where 4 was expected"),
        (lambda ls: [*ls[:5], _reindexed(ls[4], 4), ls[5]], 6, "key line beyond the 4 keys"),
        (lambda ls: ls[1:], 1, "expected the header"),
        (lambda ls: ls[:5], 5, "no trailer follows"),
        (lambda ls: [*ls, ls[1]], 7, "follows the trailer"),
        (lambda ls: [ls[0], *ls], 2, "second header"),
        (lambda ls: [ls[0], b"\n", *ls[1:]], 2, "is empty"),
        (lambda ls: [ls[0], ls[1].replace(b":", b": ", 1), *ls[2:]], 2, "not in canonical form"),
    ],
    ids=["swap", "duplicate", "remove-key", "remove-last-key", "duplicate-last-key", "extra-key", "remove-header",
         "remove-trailer", "append", "second-header", "blank-line", "whitespace"],
)  # fmt: skip
def test_line_edits_are_named(small_bundle, mac_key, edit, line, phrase):
    path, _ = small_bundle
    _rewrite(path, edit(_lines(path)))
    err = _corrupt(path, mac_key)
    assert err.line == line and f"line {line} " in err.message and phrase in err.message, err.message
    with pytest.raises(BundleCorrupt):
        inspect_bundle(path)  # structure alone shows these, without the MAC key


def test_wrong_mac_key_is_named_at_the_trailer(small_bundle):
    path, _ = small_bundle
    err = _corrupt(path, Secret(os.urandom(32)))
    assert err.line == 6 and "MAC that does not match" in err.message
    assert "share set 7" in err.message and "21845" in err.message
    inspect_bundle(path)  # structurally fine; only the MAC can tell


def test_a_deliberate_edit_with_a_recomputed_check_is_caught_by_the_mac(small_bundle, mac_key):
    path, _ = small_bundle
    lines = _lines(path)
    obj = json.loads(lines[2])
    obj.pop("check")
    obj["label"] = "evil"
    lines[2] = encode_line(obj)
    _rewrite(path, lines)
    assert inspect_bundle(path).entries[1].label == "evil"  # inspect does not authenticate
    err = _corrupt(path, mac_key)
    assert err.line == 6 and "MAC that does not match" in err.message


def _header_line(**changes) -> bytes:
    obj = make_header(4).to_dict()
    obj.update(changes)
    return encode_line(obj)


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"magic": "something-else"}, "not a custodian backup bundle"),
        ({"format_version": 4}, "format_version 4 is not supported"),
        ({"wrap_mechanism": "RFC3394"}, "wrap_mechanism"),
        ({"kek_check_value": "ABCDEF"}, "kek_check_value"),
        ({"mode": "hybrid"}, "mode"),
        ({"extra": 1}, "unexpected field 'extra'"),
    ],
)
def test_bad_header_is_named(small_bundle, mac_key, changes, phrase):
    path, _ = small_bundle
    lines = _lines(path)
    _rewrite(path, [_header_line(**changes), *lines[1:]])
    err = _corrupt(path, mac_key)
    assert err.line == 1 and phrase in err.message, err.message


def test_not_a_bundle_at_all(tmp_path, mac_key):
    for name, data in {"empty": b"", "text": b"hello\n", "binary": os.urandom(200)}.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert _corrupt(path, mac_key).line == 1


def test_file_changed_between_the_two_passes_is_refused_mid_stream(small_bundle, mac_key):
    path, _ = small_bundle
    verified = iter_verified_entries(path, mac_key)
    lines = _lines(path)
    obj = json.loads(lines[3])
    obj.pop("check")
    obj["label"] = "swapped-in"
    lines[3] = encode_line(obj)
    _rewrite(path, lines)
    seen = []
    with pytest.raises(BundleCorrupt) as info:
        for entry in verified:
            seen.append(entry.label)
    assert info.value.line == 4 and "changed since the bundle was verified" in info.value.message
    assert "swapped-in" not in seen


# --- write once -----------------------------------------------------------------------------------
def test_output_exists_is_raised_before_anything_is_written(tmp_path, mac_key):
    path = tmp_path / "b.ccb"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExists) as info:
        BundleWriter(path, make_header(1), mac_key)
    assert str(path) in info.value.message
    assert path.read_bytes() == b"precious" and _leftovers(tmp_path) == ["b.ccb"]


def test_target_appearing_during_the_write_is_not_overwritten(tmp_path, mac_key):
    path = tmp_path / "b.ccb"
    writer = BundleWriter(path, make_header(2), mac_key)
    with pytest.raises(OutputExists):
        with writer:
            writer.add(make_entry(0))
            path.write_bytes(b"someone else's")
            writer.add(make_entry(1))
    assert path.read_bytes() == b"someone else's" and _leftovers(tmp_path) == ["b.ccb"]


def test_an_exception_in_the_body_leaves_nothing(tmp_path, mac_key):
    path = tmp_path / "b.ccb"
    writer = BundleWriter(path, make_header(3), mac_key)
    with pytest.raises(RuntimeError, match="hsm fell over"):
        with writer:
            writer.add(make_entry(0))
            raise RuntimeError("hsm fell over")
    assert _leftovers(tmp_path) == [] and writer.result is None


def test_wrong_entry_count_leaves_nothing(tmp_path, mac_key):
    with pytest.raises(ValueError, match="announces 3 keys but 2"):
        write_bundle(tmp_path / "b.ccb", make_header(3), [make_entry(0), make_entry(1)], mac_key)
    with pytest.raises(ValueError, match="one more"):
        write_bundle(tmp_path / "c.ccb", make_header(1), [make_entry(0), make_entry(1)], mac_key)
    assert _leftovers(tmp_path) == []


def test_read_back_failure_removes_the_file(tmp_path, mac_key, monkeypatch):
    """Fault injected at the OS boundary: the medium stores a flipped bit after the link."""
    real_link = os.link

    def link_then_decay(src, dst, *a, **kw):
        real_link(src, dst, *a, **kw)  # vault.backup.outfile links relative to the folder's descriptor
        with open(dst, "r+b", opener=lambda name, flags: os.open(name, flags, dir_fd=kw.get("dst_dir_fd"))) as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 0x04]))

    monkeypatch.setattr(os, "link", link_then_decay)
    path = tmp_path / "b.ccb"
    with pytest.raises(OutputWriteFailed) as info:
        write_bundle(path, make_header(2), [make_entry(0), make_entry(1)], mac_key)
    assert "line 1" in info.value.message and "removed" in info.value.message
    assert _leftovers(tmp_path) == []


def test_filesystem_without_hard_links_falls_back_to_exclusive_create(tmp_path, mac_key, monkeypatch):
    """Fault injected at the OS boundary: link(2) refused as on FAT/exFAT removable media."""

    def no_link(*a, **kw):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "b.ccb"
    written = write_bundle(path, make_header(2), [make_entry(0), make_entry(1)], mac_key)
    assert written.sha256 == verify_bundle(path, mac_key).sha256
    assert _leftovers(tmp_path) == ["b.ccb"]


def test_missing_folder_is_output_write_failed(tmp_path, mac_key):
    with pytest.raises(OutputWriteFailed):
        BundleWriter(tmp_path / "no-such-medium" / "b.ccb", make_header(0), mac_key)


def test_mac_key_is_not_in_the_file_or_reprs(small_bundle, mac_key):
    path, _ = small_bundle
    key = mac_key.reveal()
    data = path.read_bytes()
    assert key.hex().encode() not in data and key not in data
    writer = BundleWriter(path.with_name("other.ccb"), make_header(0), mac_key)
    assert key.hex() not in repr(vars(writer)) and repr(key) not in repr(vars(writer))
    assert key.hex() not in repr(iter_verified_entries(path, mac_key))


def test_invalid_entries_are_refused_when_built():
    good = make_entry(1)
    with pytest.raises(ValueError, match="fingerprint"):
        KeyEntry(good.label, good.cka_id, good.algorithm, 1, good.state, "sha256:" + "0" * 64, good.public_key_pem,
                 good.wrapped)  # fmt: skip
    with pytest.raises(ValueError, match="wrapped"):
        KeyEntry("k", "01", KeyAlgorithm.AES_256, 1, KeyState.ACTIVE, "kcv:000000", None, b"x" * 20)
    with pytest.raises(ValueError, match="public_key_pem"):
        KeyEntry("k", "01", KeyAlgorithm.AES_256, 1, KeyState.ACTIVE, "kcv:000000", good.public_key_pem, b"x" * 24)
    with pytest.raises(ValueError, match="cka_id"):
        KeyEntry("k", "0G", KeyAlgorithm.AES_256, 1, KeyState.ACTIVE, "kcv:000000", None, b"x" * 24)
