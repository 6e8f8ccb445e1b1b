"""The certificate store keeps its rules by itself (real SQLite file): a serial is reserved once,
certificates and revocations are append-only, a certificate is revoked once, CRL numbers only
grow per issuer, even with raw SQL."""

from __future__ import annotations

import sqlite3

import pytest

from vault.errors import RecordExists, RecordNotFound, SerialReused, StoreError
from vault.store import Store
from vault.store.certs import NewCertificate


def cert(serial: str, **kw) -> NewCertificate:
    base = dict(serial_hex=serial, kind="root-ca", subject="CN=x", issuer="CN=x", issuer_certificate_id=None,
                key_label="k", spki_sha256="sha256:00", is_ca=True, path_length=None, not_before="2026-01-01T00:00:00Z",
                not_after="2036-01-01T00:00:00Z", profile_name="root-ca", profile_sha256="0" * 64,
                signature_scheme="ecdsa-sha384", lint_findings=(), der=b"\x30\x00" + serial.encode(),
                sha256=serial.rjust(64, "0"), path=None, ceremony_id=None)
    base.update(kw)
    return NewCertificate(**base)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "custodian.db") as s:
        yield s


def test_serials_are_reserved_once_and_certificates_need_one(store):
    with pytest.raises(RecordNotFound):
        store.add_certificate(cert("aa01"))
    store.reserve_serial("AA01", bits=64)
    with pytest.raises(SerialReused):
        store.reserve_serial("aa01", bits=64)
    record = store.add_certificate(cert("aa01"))
    assert record.serial_hex == "aa01" and store.find_certificate("AA:01").id == record.id
    with pytest.raises((RecordExists, StoreError)):
        store.add_certificate(cert("aa01", sha256="1" * 64))
    for sql in ("UPDATE certificates SET subject = 'CN=evil'", "DELETE FROM certificates",
                "DELETE FROM pki_serials", "UPDATE pki_serials SET certificate_sha256 = 'x'"):
        with pytest.raises(sqlite3.DatabaseError):
            store.conn.execute(sql)


def test_a_certificate_is_revoked_once_and_revocations_stay(store):
    store.reserve_serial("bb01", bits=64)
    record = store.add_certificate(cert("bb01"))
    store.revoke_certificate(record.id, reason="key-compromise", revoked_at="2026-02-01T00:00:00Z")
    with pytest.raises(RecordExists):
        store.revoke_certificate(record.id, reason="superseded", revoked_at="2026-02-02T00:00:00Z")
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("DELETE FROM revocations")
    assert store.revocation_of(record.id).reason == "key-compromise"


def test_crl_numbers_only_grow_per_issuer_even_with_raw_sql(store):
    store.reserve_serial("cc01", bits=64)
    issuer = store.add_certificate(cert("cc01"))
    common = dict(issuer_certificate_id=issuer.id, this_update="2026-01-01T00:00:00Z",
                  next_update="2026-02-01T00:00:00Z", revoked_count=0, profile_name="crl", profile_sha256="0" * 64,
                  lint_findings=(), path=None, ceremony_id=None)
    assert store.next_crl_number(issuer.id) == 1
    store.add_crl(crl_number=1, der=b"1", sha256="1" * 64, **common)
    store.add_crl(crl_number=5, der=b"5", sha256="5" * 64, **common)
    assert store.next_crl_number(issuer.id) == 6
    with pytest.raises(StoreError):
        store.add_crl(crl_number=3, der=b"3", sha256="3" * 64, **common)
    with pytest.raises(sqlite3.DatabaseError):
        store.conn.execute("INSERT INTO crls (issuer_certificate_id, crl_number, this_update, next_update, "
                           "revoked_count, profile_name, profile_sha256, der, sha256, issued_at) VALUES "
                           f"({issuer.id}, 5, 'a', 'b', 0, 'crl', 'x', x'00', 'dup', 'now')")
    assert [c.crl_number for c in store.list_crls(issuer.id)] == [1, 5]
