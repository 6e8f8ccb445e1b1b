"""The practice token (vault.hsm.practice_token): SoftHSM's private conf, token
directories, re-initialising the library on another conf, wiping scratch tokens.

This is the one SoftHSM-specific module of the vault, so its tests run on SoftHSM only (the
``softhsm_*`` fixtures of tests/hsm/conftest.py), not on every module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault import errors as ve
from vault.hsm import HsmModule, write_practice_conf
from vault.types import KeyAlgorithm

PKCS11_MODULE = os.environ.get("PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL, SECOND_TOKEN_LABEL = "test-token", "test-token-2"


def test_softhsm_token_info(softhsm_token):
    assert softhsm_token.manufacturer == "SoftHSM project"
    assert softhsm_token.model == "SoftHSM v2"
    assert len(softhsm_token.serial) == 16
    assert (softhsm_token.min_pin_len, softhsm_token.max_pin_len) == (4, 255)


def test_write_practice_conf(tmp_path):
    conf = write_practice_conf(tmp_path / "home")
    text = conf.read_text()
    assert conf == (tmp_path / "home" / "softhsm2.conf").resolve()
    assert (tmp_path / "home" / "tokens").is_dir()
    assert f"directories.tokendir = {(tmp_path / 'home' / 'tokens').resolve()}" in text
    for line in ("objectstore.backend = file", "log.level = ERROR", "slots.removable = false"):
        assert line in text


def test_switching_token_directories(tmp_path, softhsm_module, softhsm_token, token_pins):
    """Loading another SoftHSM conf finalises and re-initialises the library: the new
    directory's tokens appear, the old handle refuses to run."""
    other = HsmModule.load(PKCS11_MODULE, practice_conf=write_practice_conf(tmp_path / "other"))
    assert other.tokens() == []
    with pytest.raises(ve.HsmError, match="stale"):
        softhsm_module.tokens()
    back = HsmModule.load(PKCS11_MODULE, practice_conf=softhsm_module.practice_conf)
    assert [t.serial for t in back.tokens()] == [softhsm_token.serial]


def test_load_errors(tmp_path):
    with pytest.raises(ve.ModuleLoadError):
        HsmModule.load(str(tmp_path / "missing.so"))
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip("SoftHSM not installed")
    with pytest.raises(ve.ModuleLoadError):
        HsmModule.load(PKCS11_MODULE, practice_conf=tmp_path / "missing.conf")


def test_wipe_scratch_token(softhsm_module, softhsm_token, softhsm_second_token, token_pins, softhsm_dir):
    with softhsm_module.open_session(softhsm_second_token, token_pins.user) as scratch:
        scratch.generate("scratch-aes", KeyAlgorithm.AES_256, backup=False)
    token_dirs = sorted(p.name for p in (softhsm_dir / "tokens").iterdir())
    assert len(token_dirs) == 2
    softhsm_module.wipe_practice_token(softhsm_second_token, user_pin=token_pins.user)
    assert softhsm_module.tokens() == [softhsm_module.find_token(softhsm_token)]
    assert len(list((softhsm_dir / "tokens").iterdir())) == 1
    with pytest.raises(ve.TokenNotFound):
        softhsm_module.find_token(SECOND_TOKEN_LABEL)
    with softhsm_module.open_session(softhsm_token, token_pins.user) as session:  # the module still works
        assert session.list_keys() == []


def test_wipe_refuses_open_sessions(softhsm_module, softhsm_session, softhsm_token, token_pins):
    with pytest.raises(ve.HsmError, match="Sessions are open"):
        softhsm_module.wipe_practice_token(softhsm_token, user_pin=token_pins.user)


def test_wipe_refuses_foreign_conf(tmp_path, token_pins):
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip("SoftHSM not installed")
    home = tmp_path / "foreign"
    (home / "tokens").mkdir(parents=True)
    conf = home / "softhsm2.conf"
    conf.write_text(Path(write_practice_conf(tmp_path / "model")).read_text().replace(
        str((tmp_path / "model" / "tokens").resolve()), str((home / "tokens").resolve())))
    module = HsmModule.load(PKCS11_MODULE, practice_conf=conf)
    try:
        info = module.init_token("not-mine", token_pins.so, token_pins.user)
        with pytest.raises(ve.HsmError, match="conf this process wrote"):
            module.wipe_practice_token(info, user_pin=token_pins.user)
        assert module.find_token("not-mine") == info
    finally:
        module.close()

