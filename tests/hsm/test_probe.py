"""The capability probe and the self-test of the wrap mechanism, on every module here.

The probe's matrix for each module is pinned here as measured (docs/hsm-support.md shows the
same rows): a change in what a module can do, or in how the probe decides, shows up as a
failure of the row, not as a silent change of what the console allows.
"""

import pytest

from tests.hsm.conftest import require
from vault import errors as ve
from vault.hsm import HSM_LOCK, WrapMechanism
from vault.types import KeyAlgorithm

# (generate, sign, wrap, unwrap) per algorithm, as the probe measured it on this machine.
MEASURED = {
    "softhsm": {
        KeyAlgorithm.AES_256: (True, False, True, True),
        KeyAlgorithm.EC_P256: (True, True, True, True),
        KeyAlgorithm.EC_P384: (True, True, True, True),
        KeyAlgorithm.RSA_3072: (True, True, True, True),
        KeyAlgorithm.RSA_4096: (True, True, True, True),
        KeyAlgorithm.ED25519: (True, True, False, False),
    },
    "opencryptoki": {
        KeyAlgorithm.AES_256: (True, False, False, False),
        KeyAlgorithm.EC_P256: (False, False, False, False),
        KeyAlgorithm.EC_P384: (False, False, False, False),
        KeyAlgorithm.RSA_3072: (True, True, False, False),
        KeyAlgorithm.RSA_4096: (True, True, False, False),
        KeyAlgorithm.ED25519: (False, False, False, False),
    },
}


def test_probe_records_every_failure_and_never_raises(hsm_session, pkcs11_backend):
    caps = hsm_session.probe(refresh=True)
    for capability in caps.algorithms:
        row = (capability.generate, capability.sign, capability.wrap, capability.unwrap)
        assert row == MEASURED[pkcs11_backend][capability.algorithm], capability
        if not all(row[:2] if capability.algorithm.is_key_pair else row[:1]) or not (row[2] and row[3]):
            assert capability.note, capability  # every "no" says why
    assert caps.self_test_ok == (pkcs11_backend == "softhsm")
    # measured: neither module has a PIN entry device (pin_policy = "hsm" is refused on both)
    assert caps.protected_authentication_path is False and not hsm_session.token.protected_authentication_path
    if not caps.self_test_ok:
        assert "does not offer" in caps.self_test_error
        assert caps.wrap_mechanisms_offered == ()


def test_wrap_mechanism_is_chosen_from_what_the_token_offers(hsm_session):
    """``auto``: the first of KWP (0x210B), PAD (0x210A) that the mechanism list offers and
    that passes the self-test; SoftHSM 2.6 lists only PAD."""
    require(hsm_session, wrap=True)
    caps = hsm_session.capabilities()
    assert caps.wrap_mechanism in caps.wrap_mechanisms_offered
    assert caps.wrap_mechanisms_offered == (WrapMechanism.AES_KEY_WRAP_PAD,)


def test_probe_of_a_token_with_rfc5649_wrap(hsm_session):
    require(hsm_session, wrap=True)
    caps = hsm_session.probe(refresh=True)
    assert caps.wrap_mechanism is WrapMechanism.AES_KEY_WRAP_PAD
    assert caps.self_test_ok and caps.self_test_error is None
    assert caps.check_value
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
        require(session, KeyAlgorithm.EC_P256, generate=True)
        caps = session.probe(mechanism, refresh=True)
        assert not caps.self_test_ok
        assert words in caps.self_test_error
        assert not any(c.wrap or c.unwrap for c in caps.algorithms)
        with pytest.raises(ve.MechanismUnsupported, match="failed its self-test"):
            session.generate("needs-backup", KeyAlgorithm.EC_P256, backup=True)
        assert session.list_keys() == []
        key = session.generate("no-backup", KeyAlgorithm.EC_P256, backup=False)  # still fine
        assert not key.extractable


def test_auto_skips_an_offered_mechanism_that_fails_the_self_test(hsm_session, monkeypatch):
    """CKM_AES_KEY_WRAP (RFC 3394, no padding) is offered by SoftHSM but is not the backup
    format: put first in the preference order, the self-test rejects it and auto takes the
    next one that passes."""
    from vault.hsm import probe

    require(hsm_session, wrap=True)
    monkeypatch.setattr(probe, "WRAP_PREFERENCE", (WrapMechanism.AES_KEY_WRAP, WrapMechanism.AES_KEY_WRAP_PAD))
    from dataclasses import replace

    from vault.hsm import profile

    real = profile.profile_for
    monkeypatch.setattr(profile, "profile_for", lambda info, **k: replace(real(info, **k), wrap_mechanisms=()))
    with HSM_LOCK:
        assert WrapMechanism.AES_KEY_WRAP in probe.offered_wrap_mechanisms(hsm_session.p11)
        assert probe.choose_wrap_mechanism(hsm_session) is WrapMechanism.AES_KEY_WRAP_PAD
