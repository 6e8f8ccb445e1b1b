"""Builders for backup-format tests: headers and entries with real public keys."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from vault.backup.format import BundleHeader, KeyEntry
from vault.types import KeyAlgorithm, KeyState, Mode


def public_pem_and_fingerprint(private) -> tuple[str, str]:
    pub = private.public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "sha256:" + hashlib.sha256(der).hexdigest()


_EC = public_pem_and_fingerprint(ec.generate_private_key(ec.SECP256R1()))
_ED = public_pem_and_fingerprint(ed25519.Ed25519PrivateKey.generate())


def make_header(key_count: int, **over) -> BundleHeader:
    fields = dict(
        ceremony_id="c-2026-backup-1",
        share_set_id=7,
        slip39_identifier=21845,
        kek_check_value="66e94b",
        key_count=key_count,
        mode=Mode.PRACTICE,
        created_at="2026-03-01T12:00:00Z",
    )
    fields.update(over)
    return BundleHeader(**fields)


def make_entry(i: int, *, wrapped: bytes | None = None) -> KeyEntry:
    kind = i % 3
    if kind == 0:
        return KeyEntry(
            label=f"aes-{i}",
            cka_id=f"{i:08x}",
            algorithm=KeyAlgorithm.AES_256,
            version=1 + i % 4,
            state=KeyState.ACTIVE,
            fingerprint=f"kcv:{i % 0xFFFFFF:06x}",
            public_key_pem=None,
            wrapped=wrapped or os.urandom(40),
        )
    pem, fp = _EC if kind == 1 else _ED
    return KeyEntry(
        label=f"pair-{i}",
        cka_id=f"{i:08x}",
        algorithm=KeyAlgorithm.EC_P256 if kind == 1 else KeyAlgorithm.ED25519,
        version=1,
        state=KeyState.DEACTIVATED if i % 5 == 0 else KeyState.ACTIVE,
        fingerprint=fp,
        public_key_pem=pem,
        wrapped=wrapped or os.urandom(80),
    )
