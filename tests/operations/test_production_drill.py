"""A production drill never moves production keys into a software token (issue 9, item 5).

SoftHSM is the only PKCS#11 module that wraps here, so it stands in for the vendor's: a copy of
its library under a vendor name (``libvendor-hsm.so``), configured by the "vendor"
(SOFTHSM2_CONF written by this test, never by the console). A fresh child process then runs a
production home through init, generate-key, backup and the drill, and reports which PKCS#11
libraries were mapped into it (/proc/self/maps): the console's own SoftHSM library
(/usr/lib/softhsm/libsofthsm2.so, the practice token) must never be among them, and no second
token, scratch directory or SoftHSM configuration may appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vault.hsm import PRACTICE_MODULE

CHILD = Path(__file__).with_name("production_drill_child.py")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def vendor(tmp_path) -> dict:
    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    lib = tmp_path / "vendor" / "libvendor-hsm.so"
    lib.parent.mkdir()
    shutil.copy(os.path.realpath(PRACTICE_MODULE), lib)
    tokens = tmp_path / "vendor" / "tokens"
    tokens.mkdir()
    conf = tmp_path / "vendor" / "vendor.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
                    "slots.removable = false\n")
    return {"lib": lib, "conf": conf, "root": tmp_path / "run"}


def run_child(vendor: dict, scenario: str, *extra: str) -> dict:
    vendor["root"].mkdir()
    env = {**os.environ, "SOFTHSM2_CONF": str(vendor["conf"]),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(CHILD), str(vendor["root"]), str(vendor["lib"]), scenario, *extra],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_softhsm_never_loaded(out: dict, vendor: dict) -> None:
    practice_lib = os.path.realpath(PRACTICE_MODULE)
    assert out["libraries_before"] == [str(vendor["lib"])]  # the production module, and nothing else
    assert practice_lib not in out["libraries_after"], out["libraries_after"]


def test_a_production_drill_without_a_drill_token_runs_in_the_production_hsm_as_session_objects(vendor):
    out = run_child(vendor, "session")
    assert_softhsm_never_loaded(out, vendor)
    assert out["libraries_after"] == [str(vendor["lib"])]
    assert out["compared"] == 2 and out["keys_unchanged"]
    assert out["where"]["place"] == "production-hsm-session-objects"
    assert out["where"]["module"] == str(vendor["lib"]) and out["where"]["token_label"] == "vault-hsm"
    assert "session objects of the production token 'vault-hsm'" in out["detail"]
    # no scratch token, no new token file, no SoftHSM configuration or scratch directory in the home
    assert out["tokens_after"] == out["tokens_before"] and len(out["tokens_after"]) == 1
    assert out["new_token_files"] == [] and out["production_key_files_changed"] == []  # nothing stored
    assert out["new_home_files"] == [] or all("softhsm" not in f and not f.startswith("drill") for f in out["new_home_files"])
    # then the HSM is lost: with no drill token and no old token the pre-check has nowhere to
    # unwrap (and no software token instead); the restore test-unwraps on the replacement first
    assert out["preflight_unwrapped"] == 0 and out["preflight_where"] is None
    assert sorted(out["restored"]) == ["aes", "p256"] and out["store_passes"] == [1]
    assert out["keys_on_replacement"] == out["keys_before"]


def test_a_production_drill_with_a_drill_token_runs_there_and_loads_only_configured_modules(vendor):
    spare = vendor["lib"].with_name("libspare-hsm.so")  # a spare HSM: its own module
    shutil.copy(vendor["lib"], spare)
    out = run_child(vendor, "drill-token", str(spare))
    assert_softhsm_never_loaded(out, vendor)
    assert out["libraries_after"] == sorted([str(vendor["lib"]), str(spare)])
    assert out["compared"] == 2 and out["keys_unchanged"]
    assert out["where"]["place"] == "drill-token"
    assert (out["where"]["module"], out["where"]["token_label"]) == (str(spare), "drill-spare")
    [initialised] = out["initialised"]  # the first drill initialised the spare token, said so
    assert initialised["label"] == "drill-spare" and initialised["serial"] == out["where"]["token_serial"]
    # the production token is untouched: same files, same keys; the one new token is the drill token
    assert out["production_key_files_changed"] == [] and len(out["new_token_files"]) == 1
    assert [label for label, _ in out["tokens_after"]] == ["vault-hsm"]  # seen through the production module
    # after a reshare the drill token still has the old set's PINs: named, not guessed at
    code, message = out["error"]
    assert code == "DRILL_FAILED" and "has the PINs of share set 0; this quorum is share set 1" in message


def test_a_forged_blob_is_refused_on_the_replacement_before_a_single_key_is_stored(vendor):
    out = run_child(vendor, "restore-lost-forged")
    assert_softhsm_never_loaded(out, vendor)
    code, message = out["error"]
    assert code == "HSM_UNWRAP" and message.startswith("Key 'p256' of the bundle: "), out["error"]
    assert out["store_passes"] == []  # refused by the session-object pass: no token object was ever made
    assert out["keys_on_replacement"] == []


def test_a_drill_token_someone_else_initialised_is_refused(vendor):
    spare = vendor["lib"].with_name("libspare-hsm.so")
    shutil.copy(vendor["lib"], spare)
    code, message = run_child(vendor, "drill-token-foreign", str(spare))["error"]
    assert code == "DRILL_FAILED" and "(HSM_TOKEN_IN_USE)" in message
    assert "was not initialised by this vault's drills" in message


def test_the_practice_scratch_token_refuses_a_production_home(tmp_path):
    from vault.errors import ConfigError
    from vault.home import create_production_home
    from vault.operations.practice_scratch import unwrap_in_scratch_token
    from vault.vault import Vault

    create_production_home(tmp_path / "home", os.path.realpath(PRACTICE_MODULE), "vault-hsm")
    vault = Vault.open(tmp_path / "home")
    try:
        with pytest.raises(ConfigError, match="never drills in a software scratch token"):
            unwrap_in_scratch_token(vault, None, None)
        assert not (tmp_path / "home" / "softhsm2.conf").exists() and not (tmp_path / "home" / "tokens").exists()
    finally:
        vault.close()


def test_doctor_says_where_drills_run(tmp_path):
    from types import SimpleNamespace

    from vault.home import CONFIG_NAME, Home, HomeConfig, load_config
    from vault.operations.drill_place import doctor_finding
    from vault.types import Mode

    def home(mode, extra=""):
        path = tmp_path / f"{mode}-{len(extra)}"
        path.mkdir()
        text = HomeConfig(mode=mode, module="/x.so", token="t").to_toml() + extra
        (path / CONFIG_NAME).write_text(text)
        return SimpleNamespace(home=Home(path, load_config(path / CONFIG_NAME)))

    assert "scratch token of the practice token's module" in doctor_finding(home(Mode.PRACTICE))[2]
    severity, _, message, next_step = doctor_finding(home(Mode.PRODUCTION))
    assert severity == "note" and "inside the production token" in message and "[drill]" in next_step
    severity, _, message, _ = doctor_finding(home(Mode.PRODUCTION, '\n[drill]\nmodule = "/spare.so"\ntoken = "d"\n'))
    assert severity == "ok" and "drill token 'd' of /spare.so" in message


def test_a_drill_token_with_a_shorter_pin_limit_gets_the_derived_pins_fitted_to_it(vendor):
    """The spare HSM takes PINs of at most 8 characters (injected: see production_drill_child's
    limit_pins), the vault's token 32: the first drill initialises the drill token with the
    derived PINs fitted to 8 base62 characters, says so in the ledger and the drill's result,
    and every later drill logs in with the same fitted PIN. The vault's own PINs are unchanged."""
    spare = vendor["lib"].with_name("libspare-hsm.so")
    shutil.copy(vendor["lib"], spare)
    out = run_child(vendor, "drill-token-short-pins", str(spare))
    assert_softhsm_never_loaded(out, vendor)
    assert out["compared"] == 2 and out["keys_unchanged"]
    assert out["where"]["place"] == "drill-token" and out["where"]["pin_max_len"] == 8
    assert out["where"]["pin_bits_kept"] == 47
    assert "PINs fitted to its limit of 8 characters keep 47 of 128 bits" in out["detail"]
    [fitted] = out["drill_pin_fitted"]
    assert (fitted["max_pin_len"], fitted["bits_kept"], fitted["module"]) == (8, 47, str(spare))
    assert fitted["serial"] == out["where"]["token_serial"] and fitted["vault_token_pin_max_len"] is None
    assert out["vault_pin_fitted"] == []  # the vault's token keeps its 32-character PINs
    assert out["again_compared"] == 2 and out["again_where"] == out["where"]  # logged in again, fitted


def test_a_replacement_token_with_a_shorter_pin_limit_is_restored_with_fitted_pins(vendor):
    """The lost HSM took 32-character PINs, the replacement takes at most 8 (injected, as above):
    the replacement is initialised with PINs fitted to 8 characters, the vault's PIN length
    becomes 8 (ledger token.pin_fitted, replacement true) and the restore logs in with them."""
    out = run_child(vendor, "restore-short-pins")
    assert_softhsm_never_loaded(out, vendor)
    [fitted] = out["pin_fitted"]
    assert (fitted["max_pin_len"], fitted["bits_kept"], fitted["replacement"]) == (8, 47, True)
    assert out["pin_max_len_after_replacement"] == 8
    assert sorted(out["restored"]) == ["aes", "p256"]
    assert out["keys_on_replacement"] == out["keys_before"]


def test_a_drill_token_the_vendor_initialised_is_adopted_with_its_current_so_pin_and_fitted_pins(vendor):
    """A drill token on a second real module: opencryptoki's software token, factory-fresh, whose
    C_InitToken needs its current SO PIN and whose PINs are at most 8 characters (real limits,
    nothing injected). [drill] adopt_token + current_so_pin (a reference) let the first drill
    adopt it; its PINs are fitted to 8 characters and the drill logs in with them. The drill then
    fails by what the token lacks (no RFC 5649 key wrap), named: after the login with the fitted PIN."""
    from tests.support import opencryptoki
    from vault.hsm import HsmModule

    reason = opencryptoki.unavailable()
    if reason:
        pytest.skip(reason)
    with opencryptoki.exclusive():
        opencryptoki.factory_reset()
        path = opencryptoki.module_path()
        try:
            os.environ["DRILL_SO_PIN"] = opencryptoki.FACTORY_SO_PIN  # the child inherits it
            out = run_child(vendor, "drill-token-adopt", path, "pkcs11:serial=123")
        finally:
            del os.environ["DRILL_SO_PIN"]
        module = HsmModule.load(path)
        try:
            [token] = module.tokens()
        finally:
            module.close()
    assert_softhsm_never_loaded(out, vendor)
    assert opencryptoki.FACTORY_SO_PIN not in out["toml"] and 'current_so_pin = "env:DRILL_SO_PIN"' in out["toml"]
    [adopted] = out["drill_token.adopted"]
    assert (adopted["adopted_as"], adopted["current_so_pin"], adopted["serial"]) == ("pkcs11:serial=123",
                                                                                     "env:DRILL_SO_PIN", "123")
    [fitted] = out["drill_token.pin_fitted"]
    assert (fitted["max_pin_len"], fitted["bits_kept"]) == (8, 47)
    assert (token.label, token.serial) == ("drill-spare", "123")  # adopted and relabelled
    code, message = out["error"]
    assert code == "DRILL_FAILED" and "HSM_MECHANISM" in message, message
