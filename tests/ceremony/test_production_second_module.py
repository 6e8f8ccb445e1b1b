"""A production home on the second real module (opencryptoki's software token): init ADOPTS the
factory token given its current SO PIN by reference, the derived PINs are fitted to the token's
8-character limit (the weakening named in the ceremony and the ledger), then generate-key and sign
run as scripted ceremonies.

opencryptoki's swtok is machine state: the test holds tests/support/opencryptoki.exclusive() and
resets the token first. Skips by what was measured (no module, no RSA signing key), reason printed.
"""

from __future__ import annotations

import json

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import Workspace
from tests.support import opencryptoki
from vault.secret import Secret

AIRGAP = "test machine: the air gap is simulated"


@pytest.fixture
def swtok():
    with opencryptoki.factory_token() as path:
        yield path


def test_production_init_adopts_the_factory_token_then_generate_key_and_sign(ws: Workspace, swtok, monkeypatch):
    from vault.home import create_production_home
    from vault.hsm import HsmModule

    module = HsmModule.load(swtok)
    [factory] = module.slots()
    assert not factory.initialised and factory.max_pin_len < 32  # measured: 4..8 characters
    module.close()
    monkeypatch.setenv("VENDOR_SO_PIN", opencryptoki.FACTORY_SO_PIN)
    create_production_home(ws.home, swtok, "vault-hsm", adopt_token=f"pkcs11:serial={factory.serial}",
                           current_so_pin="env:VENDOR_SO_PIN")
    assert opencryptoki.FACTORY_SO_PIN not in (ws.home / "custodian.toml").read_text()

    init = ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP), allow_production_share_export=True)
    with ws.vault() as v:
        events = {e.action: e.details for e in v.ledger.events_of(init.outcome.ceremony_id)}
        fitted = events["token.pin_fitted"]
        assert fitted["max_pin_len"] == factory.max_pin_len and fitted["bits_kept"] == 47  # 8 base62 chars
        assert "keep 47 of 128 bits" in fitted["weakening"]
        assert events["token.adopted"]["current_so_pin"] == "env:VENDOR_SO_PIN"
        assert opencryptoki.FACTORY_SO_PIN not in json.dumps(events)
        [token] = v.hsm().tokens()
        assert token.label == "vault-hsm" and token.serial == factory.serial
    from vault.ceremony.events import Notice

    notices = [e.message for e in init.events if isinstance(e, Notice)]
    assert any("keep 47 of 128 bits" in n for n in notices), notices  # said in the ceremony, too
    assert any("adopted" in n and "env:VENDOR_SO_PIN" in n for n in notices), notices

    gen = ws.variant("generate-key", airgap_override=AIRGAP,
                     answers={"generate.algorithm": "rsa-3072", "generate.backup": "no-backup",
                              "generate.no-backup-reason": "the second module has no AES key wrap"})
    ws.run_ok("generate-key", gen)
    sign = ws.variant("sign", airgap_override=AIRGAP)
    ws.run_ok("sign", sign)
    # verify in software, with the public key read from the token by the documented PIN recipe
    with ws.vault() as v:
        key = v.store.get_key_by_label("signer-2026")
        with Secret(recipe_user_pin(ws.quorum_secret("shares"), 8), "user-pin") as pin:
            with v.hsm().open_session(v.token, pin) as session:
                pem = session.public_key_pem(session.get_key("signer-2026"))
        [event] = [e for e in v.ledger.events(1) if e.action == "payload.signed"]
        assert json.loads(event.details_json)["fingerprint"] == key.fingerprint
        assert v.ledger.verify().ok
    (ws.root / "signer.pub.pem").write_text(pem)
    args = ["verify", "--public-key", str(ws.root / "signer.pub.pem"), "--payload", str(ws.root / "payload.txt"),
            "--signature", str(ws.root / "media" / "payload.sig")]
    assert custodian(args) == 0


def recipe_user_pin(qs: bytes, max_len: int) -> str:
    """docs/derivations.md, written out again: HKDF-SHA256(QS, info=custodian-console/v1/user-pin, L=16),
    read as a big-endian integer, the max_len least significant base62 digits (0-9 A-Z a-z)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"custodian-console/v1/user-pin").derive(qs)
    n = int.from_bytes(raw, "big") % 62**max_len
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(n // 62**i) % 62] for i in reversed(range(max_len)))
