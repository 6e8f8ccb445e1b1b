"""The probe on a third module, tpm2-pkcs11 on the swtpm simulator (optional; skipped with the
reason where it is not installed). tpm2-pkcs11 refuses session objects (CKA_TOKEN false) and
sensitive-and-extractable keys, and gives every token the serial 0000000000000000: the probe
still measures what it can do (EC and RSA keys, non-extractable token objects, sign) instead of
reporting nothing, and tokens alike are told apart by label and slot."""

from __future__ import annotations

import os

import pytest

from tests.support import tpm2
from vault import errors as ve
from vault.hsm import HsmModule
from vault.secret import Secret
from vault.types import KeyAlgorithm, TokenSelector


def test_probe_measures_a_token_that_refuses_session_and_extractable_keys(tmp_path, monkeypatch):
    reason = tpm2.unavailable()
    if reason:
        pytest.skip(reason)
    with tpm2.simulator(tmp_path / "tpm") as env:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        module = HsmModule.load(tpm2.module_path())
        try:
            pins = Secret("so-pin-8", "so-pin"), Secret("usr-pin8", "user-pin")
            first = module.init_token("tpm-a", *pins, target=module.slots()[0])
            second = module.init_token("tpm-b", *pins, target=next(s for s in module.slots() if not s.initialised))
            assert first.serial == second.serial  # the module's serials are all alike
            with pytest.raises(ve.TokenAmbiguous, match="slot"):
                module.find_token(TokenSelector(serial=first.serial))
            assert module.find_token("tpm-b").slot_id == second.slot_id
            from vault.hsm.profile import profile_for

            assert profile_for(first).key == "tpm2-pkcs11"
            with module.open_session(first, pins[1]) as session:
                caps = session.probe(refresh=True)
                assert not caps.self_test_ok and caps.wrap_mechanisms_offered == ()
                for algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.EC_P384, KeyAlgorithm.RSA_3072):
                    row = caps[algorithm]
                    assert (row.generate, row.sign, row.wrap, row.unwrap) == (True, True, False, False), row
                    assert "token objects" in row.note and "only non-extractable" in row.note
                assert not caps[KeyAlgorithm.AES_256].generate
                assert session.list_keys() == [] and not list(session.p11.get_objects())  # nothing left
        finally:
            module.close()
