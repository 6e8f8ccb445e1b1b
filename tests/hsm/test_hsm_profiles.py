"""HSM profiles as data: one file per implementation, chosen by manufacturer and model."""

from __future__ import annotations

import pytest

from vault import errors as ve
from vault.hsm.profile import SOURCES, all_profiles, apply_overrides, profile_for
from vault.hsm import WrapMechanism

EXPECTED = {"softhsm": "softhsm-2.6", "opencryptoki": "opencryptoki-swtok"}


def test_every_shipped_profile_parses_and_says_where_its_facts_come_from():
    profiles = all_profiles()
    assert {"softhsm-2.6", "opencryptoki-swtok", "tpm2-pkcs11", "yubihsm2", "thales-luna", "entrust-nshield",
            "aws-cloudhsm", "generic"} <= set(profiles)
    for profile in profiles.values():
        assert profile.source in SOURCES and profile.notes
    assert {k for k, p in profiles.items() if p.tested_here} == {"softhsm-2.6", "opencryptoki-swtok", "tpm2-pkcs11"}


def test_the_token_chooses_its_profile_by_manufacturer_and_model(token, pkcs11_backend):
    profile = profile_for(token)
    assert profile.key == EXPECTED[pkcs11_backend] and profile.tested_here
    assert "tested here" in profile.describe()


def test_a_token_no_profile_knows_gets_the_generic_one(token):
    from dataclasses import replace

    stranger = replace(token, manufacturer="Nobody Ltd", model="Prototype")
    assert profile_for(stranger).key == "generic"


def test_custodian_toml_names_a_profile_or_overrides_its_fields(token):
    assert profile_for(token, name="thales-luna").key == "thales-luna"
    with pytest.raises(ve.ConfigError, match="does not exist"):
        profile_for(token, name="no-such-hsm")
    changed = profile_for(token, overrides={"wrap_mechanisms": ["AES_KEY_WRAP_KWP"], "check_value": False})
    assert changed.wrap_mechanisms == (WrapMechanism.AES_KEY_WRAP_KWP,) and not changed.check_value
    assert "overrides check_value, wrap_mechanisms" in changed.describe()
    with pytest.raises(ve.ConfigError, match="unknown fields: pin_max"):
        apply_overrides(changed, {"pin_max": 64})
    with pytest.raises(ve.ConfigError, match="unknown wrap mechanism"):
        apply_overrides(changed, {"wrap_mechanisms": ["AES_CBC"]})


def test_the_profile_decides_how_keys_are_wrapped_for_transport(token):
    """Every shipped profile sends with RSA-OAEP then RFC 5649 (the one-shot CKM_RSA_AES_KEY_WRAP
    has no tested path here); custodian.toml may ask for either, and nothing else."""
    assert {p.transport_wrap for p in all_profiles().values()} == {"oaep-then-kwp"}
    asked = profile_for(token, overrides={"transport_wrap": "rsa-aes-key-wrap"})
    assert asked.transport_wrap == "rsa-aes-key-wrap" and "overrides transport_wrap" in asked.describe()
    assert asked.to_dict()["transport_wrap"] == "rsa-aes-key-wrap"
    with pytest.raises(ve.ConfigError, match="transport_wrap must be one of oaep-then-kwp, rsa-aes-key-wrap"):
        profile_for(token, overrides={"transport_wrap": "rsa-oaep-only"})
