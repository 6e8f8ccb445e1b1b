"""``[hsm] pin_policy = "hsm"`` (authentication left to the HSM's PIN entry device) is accepted
by custodian.toml, and served only by a token that reports CKF_PROTECTED_AUTHENTICATION_PATH.

Neither SoftHSM nor opencryptoki's software token has the flag, so on both a production home
with pin_policy = "hsm" is refused before its token is touched, with one line naming the flag.
No module here has the flag, so the PED login itself (C_Login with a NULL PIN) has never run:
a token reporting the flag is refused too, saying so (checked on a TokenInfo value; no PKCS#11
call is involved in that decision).
"""

from __future__ import annotations

import os
from dataclasses import replace
from types import SimpleNamespace

import pytest

from tests.support import opencryptoki
from vault.errors import ConfigError, PinPolicyRefused
from vault.home import CONFIG_NAME, Home, HomeConfig, create_production_home, load_config
from vault.types import Mode

FLAG = "CKF_PROTECTED_AUTHENTICATION_PATH"


def with_pin_policy(home, policy: str = "hsm") -> None:
    path = home / CONFIG_NAME
    path.write_text(path.read_text().replace("[hsm]\n", f'[hsm]\npin_policy = "{policy}"\n', 1))


def test_custodian_toml_takes_pin_policy_hsm_in_production_and_writes_it_back(tmp_path):
    create_production_home(tmp_path / "h", "/bin/sh", "vault-hsm")
    assert load_config(tmp_path / "h" / CONFIG_NAME).pin_policy == "quorum"  # the default, not written
    assert "pin_policy" not in (tmp_path / "h" / CONFIG_NAME).read_text()
    with_pin_policy(tmp_path / "h")
    config = load_config(tmp_path / "h" / CONFIG_NAME)
    assert config.pin_policy == "hsm" and 'pin_policy = "hsm"' in config.to_toml()


@pytest.mark.parametrize("mode, policy, message", [
    ("production", "ped", "pin_policy must be 'quorum', 'hsm' or 'hsm-procedure', not 'ped'"),
    ("practice", "hsm-procedure", "a practice home's token takes the quorum's PINs"),
    ("practice", "hsm", "a practice home's token takes the quorum's PINs"),
])
def test_bad_pin_policies_are_refused_by_name(tmp_path, mode, policy, message):
    path = tmp_path / CONFIG_NAME
    path.write_text(f'format = 1\nmode = "{mode}"\n[hsm]\nmodule = "/x.so"\ntoken = "t"\npin_policy = "{policy}"\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def _vault_like(tmp_path, policy: str):
    config = HomeConfig(mode=Mode.PRODUCTION, module="/x.so", token="t", pin_policy=policy)
    return SimpleNamespace(home=Home(tmp_path, config))


def test_a_token_reporting_the_flag_is_refused_as_not_built_yet_and_the_default_policy_never_is(tmp_path):
    from vault.hsm import TokenInfo
    from vault.operations.pin_policy import refusal

    ped = TokenInfo(label="vault-hsm", manufacturer="Vendor", model="PED HSM", serial="42", firmware="1.0",
                    flags=("PROTECTED_AUTHENTICATION_PATH",), initialised=True, user_pin_initialised=True,
                    protected_authentication_path=True)
    error = refusal(_vault_like(tmp_path, "hsm"), ped, what="log in to")
    assert isinstance(error, PinPolicyRefused) and error.code == "PIN_POLICY"
    assert "cannot yet log in to a token through its PIN entry device" in error.message
    assert "has not been tested on any HSM" in error.message and "\n" not in error.one_line()
    assert refusal(_vault_like(tmp_path, "hsm"), replace(ped, protected_authentication_path=False)) is not None
    assert refusal(_vault_like(tmp_path, "quorum"), ped) is None
    assert refusal(_vault_like(tmp_path, "quorum"), None) is None


@pytest.fixture
def softhsm_production(ws_home, tmp_path, monkeypatch):
    """A production home on SoftHSM standing in for the vendor's module (its conf written by the
    test, never by the console), with pin_policy = "hsm"."""
    from vault.hsm import PRACTICE_MODULE, HsmModule, write_practice_conf

    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    conf = write_practice_conf(tmp_path / "vendor-hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    module = HsmModule.load(PRACTICE_MODULE, practice_conf=conf)
    create_production_home(ws_home, PRACTICE_MODULE, "vault-hsm")
    with_pin_policy(ws_home)
    yield module
    module.close()


@pytest.fixture
def ws_home(tmp_path):
    return tmp_path / "home"


def _refused_init(home) -> tuple:
    from vault.operations.token import initialise_token_transient
    from vault.vault import Vault

    vault = Vault.open(home, create_practice=False)
    try:
        with pytest.raises(PinPolicyRefused) as caught:
            initialise_token_transient(vault, ceremony_id=None)
        return caught.value, [(e.action, e.details) for e in vault.ledger.events()], vault.hsm().tokens()
    finally:
        vault.close()


def test_softhsm_has_no_pin_entry_device_so_init_is_refused_before_the_token_is_touched(softhsm_production, ws_home):
    error, events, tokens = _refused_init(ws_home)
    assert FLAG in error.message and 'pin_policy = "hsm"' in error.message and "Remove pin_policy" in error.next_step
    assert "\n" not in error.one_line()
    assert tokens == [] and not any(action.startswith("token.") for action, _ in events)  # nothing initialised


def test_softhsm_sessions_and_doctor_refuse_pin_policy_hsm_by_name(softhsm_production, ws_home):
    from vault.doctor import run_doctor
    from vault.operations.quorum import open_token_session
    from vault.secret import Secret
    from vault.vault import Vault

    with Secret("so-pin-of-the-test", "so-pin") as so, Secret("user-pin-of-the-test", "user-pin") as user:
        softhsm_production.init_token("vault-hsm", so, user)  # a token the vault would log in to
    vault = Vault.open(ws_home, create_practice=False)
    try:
        with pytest.raises(PinPolicyRefused, match=FLAG):
            open_token_session(vault, None)  # refused before a PIN is derived: no quorum needed
        [finding] = [f for f in run_doctor(vault).findings if f.area == "pin policy"]
        assert finding.severity == "error" and FLAG in finding.message
    finally:
        vault.close()


@pytest.fixture
def swtok():
    with opencryptoki.factory_token() as path:
        yield path


def test_opencryptoki_has_no_pin_entry_device_so_init_is_refused_before_the_token_is_touched(swtok, tmp_path):
    from vault.hsm import HsmModule

    create_production_home(tmp_path / "home", swtok, "vault-hsm")
    with_pin_policy(tmp_path / "home")
    error, events, tokens = _refused_init(tmp_path / "home")
    assert FLAG in error.message and "the uninitialised token in slot" in error.message
    assert tokens == [] and not any(action.startswith("token.") for action, _ in events)
    [factory] = HsmModule.load(swtok).slots()
    assert not factory.initialised and not factory.protected_authentication_path  # as measured
