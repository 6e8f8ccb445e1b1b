"""The capability probe and the self-test of the wrap mechanism, on SoftHSM 2.6."""

import pytest

from vault import errors as ve
from vault.hsm import WrapMechanism
from vault.types import KeyAlgorithm


def test_probe_softhsm(hsm_session):
    caps = hsm_session.probe(refresh=True)
    assert caps.wrap_mechanism is WrapMechanism.AES_KEY_WRAP_PAD
    assert caps.self_test_ok and caps.self_test_error is None
    assert set(caps.generatable()) == set(KeyAlgorithm)
    for algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384, KeyAlgorithm.RSA_3072):
        c = caps[algorithm]
        assert (c.generate, c.sign, c.wrap, c.unwrap) == (True, True, True, True), c
    aes = caps[KeyAlgorithm.AES_256]
    assert (aes.generate, aes.sign, aes.wrap, aes.unwrap) == (True, False, True, True)
    ed = caps[KeyAlgorithm.ED25519]
    assert (ed.generate, ed.sign, ed.wrap, ed.unwrap) == (True, True, False, False)
    assert not ed.backup and "wrap" in ed.note
    assert "mechanism" in caps[KeyAlgorithm.RSA_4096].note  # decided, not generated


def test_probe_leaves_nothing_on_the_token(hsm_session):
    hsm_session.probe(refresh=True)
    assert hsm_session.list_keys() == []
    assert hsm_session._session is not None and not list(hsm_session._session.get_objects())


def test_probe_is_cached(hsm_session):
    assert hsm_session.probe() is hsm_session.probe()


@pytest.mark.parametrize(
    ("mechanism", "words"),
    [
        (WrapMechanism.AES_KEY_WRAP_KWP, "does not offer AES_KEY_WRAP_KWP"),  # SoftHSM 2.6 rejects 0x210B
        (WrapMechanism.AES_KEY_WRAP, "not RFC 5649"),  # accepted by the token, wrong format
    ],
)
def test_wrong_wrap_mechanism_fails_the_self_test(hsm_module, token, token_pins, mechanism, words):
    with hsm_module.open_session(token, token_pins.user, wrap_mechanism=mechanism) as session:
        caps = session.probe(mechanism, refresh=True)
        assert not caps.self_test_ok
        assert words in caps.self_test_error
        assert not any(c.wrap or c.unwrap for c in caps.algorithms)
        with pytest.raises(ve.MechanismUnsupported, match="failed its self-test"):
            session.generate("needs-backup", KeyAlgorithm.EC_P256, backup=True)
        assert session.list_keys() == []
        key = session.generate("no-backup", KeyAlgorithm.EC_P256, backup=False)  # still fine
        assert not key.extractable
