"""The bulk paths on real SoftHSM tokens: one-pass index, lazy wrap with the public key in the
same pass, streaming restore with undo by handle; and the compact hash table they use."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute as A
from pkcs11 import KeyType, ObjectClass

from tests.hsm.conftest import require
from vault import errors as ve
from vault.hsm import HSM_LOCK, KeyObject, bulk, templates
from vault.hsm.software import unwrap_offline
from vault.secret import Secret
from vault.types import KeyAlgorithm

KEK = bytes(range(32))


def _der(session, key: KeyObject) -> bytes:
    pem = session.public_key_pem(key).encode()
    return serialization.load_pem_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# --- HandleTable -------------------------------------------------------------------------------------
def test_handle_table_grows_finds_and_marks_duplicates():
    table = bulk.HandleTable(capacity=4)
    hashes = [bulk.ident_hash(bulk.SECRET_PART, f"k{i}", bytes([i % 256])) for i in range(5000)]
    for i, h in enumerate(hashes):
        table.put(h, i + 100)
    assert len(table) == 5000
    assert all(table.get(h) == i + 100 for i, h in enumerate(hashes))
    assert table.get(bulk.ident_hash(bulk.SECRET_PART, "absent", b"")) is None
    table.put(hashes[7], 107)  # the same handle again: not a duplicate
    assert table.get(hashes[7]) == 107
    table.put(hashes[7], 9999)  # another object with the same ident
    assert table.get(hashes[7]) == bulk.HandleTable.DUPLICATE
    assert table.nbytes <= 32 * 5000 * 2  # two 8-byte arrays, load factor <= 1/2 (x2 just after growing)


def test_ident_hash_separates_kind_label_and_id():
    h = bulk.ident_hash
    assert len({h(0, "ab", b"c"), h(0, "a", b"bc"), h(1, "ab", b"c"), h(2, "ab")}) == 4
    assert h(0, "ab", b"c") == h(0, b"ab", b"c") != 0


# --- walking and reading -----------------------------------------------------------------------------
def test_reader_falls_back_when_a_value_is_larger_than_its_buffer(hsm_session):
    """A foreign object with a 300-byte label and CKA_ID: read exactly, in two calls."""
    label, key_id = "L" * 300, bytes(range(256)) + b"tail"
    with HSM_LOCK:
        raw_session = hsm_session._session
        raw_session.generate_key(KeyType.AES, 256, label=label, id=key_id, store=True,
                                 template={A.SENSITIVE: True, A.EXTRACTABLE: False})  # fmt: skip
        raw = hsm_session.raw()
        reader = raw.reader(bulk.IDENT_ATTRIBUTES + ((A.EC_POINT, 64),))
        (handles,) = list(raw.find({A.TOKEN: True}))
        cls, got_label, got_id, point = reader.read(handles[0])
    assert bulk.ulong(cls) == ObjectClass.SECRET_KEY
    assert got_label == label.encode() and got_id == key_id and point is None


def test_wrap_with_public_is_one_pass_lazy_and_matches_the_single_key_calls(hsm_session, monkeypatch):
    require(hsm_session, wrap=True)
    keys = [hsm_session.generate("w-aes", KeyAlgorithm.AES_256), hsm_session.generate("w-ec", KeyAlgorithm.EC_P256),
            hsm_session.generate("w-p384", KeyAlgorithm.EC_P384)]  # fmt: skip
    hsm_session.generate("w-other", KeyAlgorithm.AES_256, backup=False)
    searches = []
    real_find = bulk.RawSession.find
    monkeypatch.setattr(bulk.RawSession, "find", lambda self, *a, **k: searches.append(a) or real_find(self, *a, **k))
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    pulled = []

    def lazily():
        for key in keys:
            pulled.append(key.label)
            yield key

    stream = hsm_session.wrap_with_public(wkey, lazily())
    assert pulled == [] and len(searches) == 1  # the index is built, no key asked for yet
    first = next(stream)
    assert pulled == ["w-aes"]
    results = [first, *stream]
    assert len(searches) == 1  # one search for the whole run
    assert [k for k, _, _ in results] == keys
    for key, blob, der in results:
        assert blob == hsm_session.wrap(wkey, key)
        plain = unwrap_offline(KEK, blob, key.algorithm)
        assert plain
        assert der == (_der(hsm_session, key) if key.algorithm.is_key_pair else None)
    assert [b for _, b in hsm_session.wrap_many(wkey, keys)] == [b for _, b, _ in results]


def test_wrap_refuses_missing_unwrappable_and_ambiguous_keys(hsm_session):
    require(hsm_session, wrap=True)
    key = hsm_session.generate("dup", KeyAlgorithm.AES_256)
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    ghost = KeyObject("ghost", "00ff", KeyAlgorithm.AES_256, "kcv:000000", True, True, False)
    with pytest.raises(ve.KeyNotFound, match="ghost"):
        list(hsm_session.wrap_many(wkey, [ghost]))
    with pytest.raises(ve.KeyNotWrappable):
        list(hsm_session.wrap_many(wkey, [KeyObject(**{**_fields(key), "extractable": False})]))
    # A second secret key object with the same label and CKA_ID: which one to back up is unknowable.
    with HSM_LOCK:
        hsm_session._session.generate_key(KeyType.AES, 256, label="dup", id=bytes.fromhex(key.key_id), store=True,
                                          template=templates.secret_key("dup", bytes.fromhex(key.key_id), store=True,
                                                                        backup=True))  # fmt: skip
    with pytest.raises(ve.HsmCheckFailed, match="More than one"):
        list(hsm_session.wrap_many(wkey, [key]))


def _fields(key: KeyObject) -> dict:
    return {f: getattr(key, f) for f in KeyObject.__dataclass_fields__}


def test_a_pair_without_its_public_half_has_no_public_key_to_back_up(hsm_session):
    require(hsm_session, wrap=True)
    key = hsm_session.generate("half", KeyAlgorithm.EC_P256)
    with HSM_LOCK:
        for obj in hsm_session._session.get_objects({A.CLASS: ObjectClass.PUBLIC_KEY, A.LABEL: "half"}):
            obj.destroy()
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    with pytest.raises(ve.KeyNotFound, match="public half"):
        list(hsm_session.wrap_with_public(wkey, [key]))
    assert len(list(hsm_session.wrap_many(wkey, [key]))) == 1  # the private half alone still wraps


# --- streaming restore ------------------------------------------------------------------------------
def _items(session, keys):
    wkey = session.import_wrapping_key(Secret(KEK))
    return list(session.wrap_with_public(wkey, keys))


def test_unwrap_all_restores_and_undo_removes_everything_by_handle(hsm_session, second_token, hsm_module, token_pins):
    keys = [hsm_session.generate(f"u{i}", a) for i, a in enumerate([KeyAlgorithm.AES_256, KeyAlgorithm.EC_P256] * 3)]
    items = _items(hsm_session, keys)
    with hsm_module.open_session(second_token, token_pins.user) as target:
        wkey = target.import_wrapping_key(Secret(KEK))
        made = target.unwrap_all(wkey, iter(items))
        assert made.count == 6 and made.nbytes >= 8 * 9  # 3 AES objects + 3 pairs of 2
        assert target.list_keys() == sorted(keys, key=lambda k: k.label)
        assert made.undo() == 0
        assert target.list_keys() == [] and list(target._session.get_objects({A.TOKEN: True})) == []


def test_unwrap_all_is_all_or_nothing_on_a_clash_or_a_repeat(hsm_session, second_token, hsm_module, token_pins):
    keys = [hsm_session.generate(f"c{i}", KeyAlgorithm.AES_256) for i in range(4)]
    items = _items(hsm_session, keys)
    with hsm_module.open_session(second_token, token_pins.user) as target:
        wkey = target.import_wrapping_key(Secret(KEK))
        target.generate("c3", KeyAlgorithm.AES_256, backup=False)
        with pytest.raises(ve.LabelExists, match="c3"):
            target.unwrap_all(wkey, iter(items))  # c0..c2 were made, then destroyed again
        assert [k.label for k in target.list_keys()] == ["c3"]
        target.destroy(target.get_key("c3"))
        with pytest.raises(ve.LabelExists, match="repeat"):
            target.unwrap_all(wkey, iter(items[:2] + items[:1]))
        assert target.list_keys() == []
        # As session objects (drills): the repeat is refused too, and nothing stays.
        with pytest.raises(ve.LabelExists, match="repeat"):
            target.unwrap_all(wkey, iter(items[:1] * 2), store=False)
        assert list(target._session.get_objects({A.LABEL: "c0"})) == []


def test_raw_wrap_asks_the_size_when_the_blob_does_not_fit(hsm_session):
    require(hsm_session, wrap=True)
    key = hsm_session.generate("p384", KeyAlgorithm.EC_P384)  # a blob of more than 16 bytes
    wkey = hsm_session.import_wrapping_key(Secret(KEK))
    expected = hsm_session.wrap(wkey, key)
    with HSM_LOCK:
        raw = hsm_session.raw()
        table = bulk.index_keys(raw, {A.TOKEN: True})
        handle = table.get(bulk.ident_hash(bulk.SECRET_PART, key.label, bytes.fromhex(key.key_id)))
        assert raw.wrap(wkey._object.handle, handle, hsm_session.wrap_mechanism.value, size_hint=16) == expected
        assert raw.wrap(wkey._object.handle, handle, hsm_session.wrap_mechanism.value) == expected
    assert len(expected) > 16
