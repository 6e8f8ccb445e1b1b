"""The break-glass recipe in docs/backup-format.md works: its Python block is executed here.

The bundle is made the way the console makes one (keys wrapped with RFC 5649 under the KEK
derived from a SLIP-39-split quorum secret; the private key zero-padded as SoftHSM 2.6.1 does),
then recovered with nothing but the documented snippet.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from bundle_builders import make_header, public_pem_and_fingerprint
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
from shamir_mnemonic import generate_mnemonics

from vault.backup.format import BundleWriter, KeyEntry, kek_check_value, write_bundle
from vault.backup.metadata import seal_records
from vault.secret import Secret
from vault.shares import derive
from vault.types import KeyAlgorithm, KeyState

DOC = Path(__file__).resolve().parents[2] / "docs" / "backup-format.md"


def _snippet() -> dict:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace


def test_snippet_matches_the_golden_derivations():
    ns = _snippet()
    qs = bytes(range(32))
    assert ns["hkdf"](qs, "custodian-console/v1/backup-kek") == derive.derive_backup_kek(Secret(qs)).reveal()
    assert ns["hkdf"](qs, "custodian-console/v1/bundle-mac-key") == derive.derive_bundle_mac_key(Secret(qs)).reveal()
    assert ns["hkdf"](qs, "custodian-console/v1/backup-kek").hex().startswith("da1fb591")


@pytest.mark.parametrize("version", [1, 2])
def test_keys_are_recovered_with_only_the_shares_and_the_documented_recipe(tmp_path, version):
    qs = Secret(os.urandom(32))
    mnemonics = generate_mnemonics(1, [(2, 3)], qs.reveal(), extendable=True, iteration_exponent=0)[0]
    kek, mac_key = derive.derive_backup_kek(qs), derive.derive_bundle_mac_key(qs)

    aes_key = os.urandom(32)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    pkcs8 = ec_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())  # fmt: skip
    padded = pkcs8 + bytes(-len(pkcs8) % 8)  # what SoftHSM 2.6.1 wraps
    pem, fingerprint = public_pem_and_fingerprint(ec_key)
    entries = [
        KeyEntry("dek-1", "01", KeyAlgorithm.AES_256, 1, KeyState.ACTIVE, "kcv:" + kek_check_value(Secret(aes_key)),
                 None, aes_key_wrap_with_padding(kek.reveal(), aes_key)),  # fmt: skip
        KeyEntry("signer-1", "02", KeyAlgorithm.EC_P384, 2, KeyState.ACTIVE, fingerprint, pem,
                 aes_key_wrap_with_padding(kek.reveal(), padded)),  # fmt: skip
    ]
    path = tmp_path / "bundle.ccb"
    if version == 1:
        write_bundle(path, make_header(2, kek_check_value=kek_check_value(kek)), entries, mac_key)
    else:  # the console's format: the sealed metadata follows the key lines
        header = make_header(2, kek_check_value=kek_check_value(kek), format_version=2, ledger_seq=3,
                             ledger_head="ab" * 32)
        writer = BundleWriter(path, header, mac_key)
        with writer:
            writer.add_all(entries)
            for chunk in seal_records(derive.derive_backup_metadata_key(qs), [{"snapshot": 1}, [1, "x"]]):
                writer.add_metadata(chunk)

    recovered = _snippet()["recover"](str(path), mnemonics[:2])
    assert recovered == {"dek-1": aes_key, "signer-1": pkcs8}
    assert hashlib.sha256(recovered["signer-1"]).digest() == hashlib.sha256(pkcs8).digest()
