"""After a whole key life (init, generate, back up, sign, drill), no secret is on disk or in the ledger."""

from __future__ import annotations

from vault.operations import generate_key, run_drill, sign_payload, write_backup
from vault.types import KeyAlgorithm

from .conftest import CEREMONY


def test_no_secret_reaches_the_database_the_ledger_or_the_bundle(practice_vault, kit, session, tmp_path):
    quorum = kit.quorum
    generate_key(practice_vault, session, "aes", KeyAlgorithm.AES_256, ceremony_id=CEREMONY)
    generate_key(practice_vault, session, "p256", KeyAlgorithm.EC_P256, ceremony_id=CEREMONY)
    bundle = tmp_path / "b.bundle"
    write_backup(practice_vault, session, quorum, bundle, ceremony_id=CEREMONY)
    (tmp_path / "payload").write_bytes(b"csr")
    sign_payload(practice_vault, session, "p256", tmp_path / "payload", tmp_path / "payload.sig")
    session.close()
    run_drill(practice_vault, quorum, ceremony_id=CEREMONY)

    secrets: list[bytes] = []
    for secret in (quorum._qs, quorum.kek(), quorum.mac_key()):
        raw = secret.reveal()
        secrets += [raw, raw.hex().encode()]
    for pin in (quorum.user_pin(), quorum.so_pin()):
        secrets.append(pin.reveal())
    for mnemonic in kit.mnemonics:
        words = mnemonic.reveal_text().split()
        secrets.append(" ".join(words[3:10]).encode())  # past the identifying words, which are public

    home = practice_vault.home.path
    stored = b"".join(p.read_bytes() for p in home.glob("custodian.db*"))
    ledger = "\n".join(e.details_json for e in practice_vault.ledger.events()).encode()
    for blob in (stored, ledger, bundle.read_bytes()):
        for secret in secrets:
            assert secret not in blob
    assert all(s.decode("latin-1") not in repr(quorum) for s in secrets)
