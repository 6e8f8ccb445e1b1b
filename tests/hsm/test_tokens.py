"""Tokens: loading, selection (label, serial, URI), init, login, wipe — on real SoftHSM."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault import errors as ve
from vault.hsm import HSM_LOCK, HsmModule, TokenUriInvalid, write_softhsm_conf
from vault.hsm.uri import TokenUri
from vault.secret import Secret
from vault.types import KeyAlgorithm, TokenSelector

# The same values as tests/conftest.py (not imported: tests/ is not a package).
PKCS11_MODULE = os.environ.get("PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL, SECOND_TOKEN_LABEL = "test-token", "test-token-2"
USER_PIN_TEXT = "user-pin-practice"


def test_write_softhsm_conf(tmp_path):
    conf = write_softhsm_conf(tmp_path / "home")
    text = conf.read_text()
    assert conf == (tmp_path / "home" / "softhsm2.conf").resolve()
    assert (tmp_path / "home" / "tokens").is_dir()
    assert f"directories.tokendir = {(tmp_path / 'home' / 'tokens').resolve()}" in text
    for line in ("objectstore.backend = file", "log.level = ERROR", "slots.removable = false"):
        assert line in text


def test_token_info(hsm_module, token):
    assert token.label == TOKEN_LABEL
    assert token.manufacturer == "SoftHSM project"
    assert token.model == "SoftHSM v2"
    assert len(token.serial) == 16
    assert token.firmware.count(".") == 1
    assert token.initialised and token.user_pin_initialised
    assert {"TOKEN_INITIALIZED", "USER_PIN_INITIALIZED", "LOGIN_REQUIRED", "RNG"} <= set(token.flags)
    assert hsm_module.tokens() == [token]  # the free slot is not listed


def test_find_by_label_serial_and_uri(hsm_module, token, second_token):
    assert hsm_module.find_token(TOKEN_LABEL) == token
    assert hsm_module.find_token(TokenSelector(serial=token.serial)) == token
    assert hsm_module.find_token(TokenSelector(label=SECOND_TOKEN_LABEL)) == second_token
    assert hsm_module.find_token(f"pkcs11:token={TOKEN_LABEL};serial={token.serial}") == token
    assert hsm_module.find_token("pkcs11:token=test%2Dtoken%2D2") == second_token
    assert hsm_module.find_token(token.uri) == token
    assert hsm_module.find_token(token) == token  # a TokenInfo is re-read by serial


def test_unknown_and_ambiguous(hsm_module, token, second_token):
    with pytest.raises(ve.TokenNotFound, match="no-such-token"):
        hsm_module.find_token("no-such-token")
    with pytest.raises(ve.TokenNotFound):
        hsm_module.find_token(TokenSelector(serial="0000000000000000"))
    with pytest.raises(ve.TokenNotFound):
        hsm_module.find_token(f"pkcs11:token={TOKEN_LABEL};serial={second_token.serial}")
    with pytest.raises(ve.TokenAmbiguous) as info:
        hsm_module.find_token("pkcs11:manufacturer=SoftHSM%20project")
    assert token.serial in str(info.value) and second_token.serial in str(info.value)
    with pytest.raises(ve.TokenAmbiguous):
        hsm_module.find_token(TokenUri(model="SoftHSM v2"))
    with pytest.raises(TokenUriInvalid):
        hsm_module.find_token("pkcs11:slot-id=0")


def test_init_token_refuses_existing_label(hsm_module, token, token_pins):
    with pytest.raises(ve.LabelExists):
        hsm_module.init_token(TOKEN_LABEL, token_pins.so, token_pins.user)
    assert hsm_module.tokens() == [token]


def test_init_token_checks_input(hsm_module, token_pins):
    with pytest.raises(ValueError):
        hsm_module.init_token("x" * 33, token_pins.so, token_pins.user)
    with pytest.raises(ValueError):
        hsm_module.init_token("ok", Secret("123"), token_pins.user)
    assert hsm_module.tokens() == []


def test_random_needs_no_login(hsm_module, token):
    a, b = hsm_module.random(token, 32), hsm_module.random(TOKEN_LABEL, 32)
    assert len(a) == len(b) == 32 and a != b


def test_session_random_and_repr(hsm_session, token_pins):
    assert len(hsm_session.random(16)) == 16
    assert USER_PIN_TEXT not in repr(hsm_session)
    assert USER_PIN_TEXT not in repr(token_pins)


def test_wrong_pin_is_refused_and_the_leaked_session_reaped(hsm_module, token, token_pins):
    """python-pkcs11 leaks the session of a failed C_Login; vault.hsm reaps it. Proof: the
    SO login (which a leftover RO session would block with SessionReadOnlyExists) works."""
    import pkcs11  # the test talks to the module directly to check the token state

    with pytest.raises(ve.PinIncorrect) as info:
        hsm_module.open_session(token, Secret("wrong-pin-123"))
    assert "wrong-pin-123" not in str(info.value)
    with HSM_LOCK:
        lib = pkcs11.lib(os.path.realpath(PKCS11_MODULE))
        p11_token = lib.get_token(token_serial=token.serial.encode())
        with p11_token.open(rw=True, so_pin=token_pins.so.reveal_text()):
            pass
    with hsm_module.open_session(token, token_pins.user) as session:
        assert session.list_keys() == []


def test_one_session_per_token(hsm_module, hsm_session, token, token_pins):
    with pytest.raises(ve.HsmError, match="already open"):
        hsm_module.open_session(token, token_pins.user)
    hsm_session.close()
    with pytest.raises(ve.HsmError, match="closed"):
        hsm_session.list_keys()
    with hsm_module.open_session(token, token_pins.user) as again:
        assert again.list_keys() == []


def test_switching_token_directories(tmp_path, hsm_module, token, token_pins):
    """Loading another SoftHSM conf finalises and re-initialises the library: the new
    directory's tokens appear, the old handle refuses to run."""
    other = HsmModule.load(PKCS11_MODULE, softhsm_conf=write_softhsm_conf(tmp_path / "other"))
    assert other.tokens() == []
    with pytest.raises(ve.HsmError, match="stale"):
        hsm_module.tokens()
    back = HsmModule.load(PKCS11_MODULE, softhsm_conf=hsm_module.softhsm_conf)
    assert [t.serial for t in back.tokens()] == [token.serial]


def test_load_errors(tmp_path):
    with pytest.raises(ve.ModuleLoadError):
        HsmModule.load(str(tmp_path / "missing.so"))
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip("SoftHSM not installed")
    with pytest.raises(ve.ModuleLoadError):
        HsmModule.load(PKCS11_MODULE, softhsm_conf=tmp_path / "missing.conf")


def test_wipe_scratch_token(hsm_module, token, second_token, token_pins, softhsm_dir):
    with hsm_module.open_session(second_token, token_pins.user) as scratch:
        scratch.generate("scratch-aes", KeyAlgorithm.AES_256, backup=False)
    token_dirs = sorted(p.name for p in (softhsm_dir / "tokens").iterdir())
    assert len(token_dirs) == 2
    hsm_module.wipe_softhsm_token(second_token, user_pin=token_pins.user)
    assert hsm_module.tokens() == [hsm_module.find_token(token)]
    assert len(list((softhsm_dir / "tokens").iterdir())) == 1
    with pytest.raises(ve.TokenNotFound):
        hsm_module.find_token(SECOND_TOKEN_LABEL)
    with hsm_module.open_session(token, token_pins.user) as session:  # the module still works
        assert session.list_keys() == []


def test_wipe_refuses_open_sessions(hsm_module, hsm_session, token, token_pins):
    with pytest.raises(ve.HsmError, match="Sessions are open"):
        hsm_module.wipe_softhsm_token(token, user_pin=token_pins.user)


def test_wipe_refuses_foreign_conf(tmp_path, token_pins):
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip("SoftHSM not installed")
    home = tmp_path / "foreign"
    (home / "tokens").mkdir(parents=True)
    conf = home / "softhsm2.conf"
    conf.write_text(Path(write_softhsm_conf(tmp_path / "model")).read_text().replace(
        str((tmp_path / "model" / "tokens").resolve()), str((home / "tokens").resolve())))
    module = HsmModule.load(PKCS11_MODULE, softhsm_conf=conf)
    try:
        info = module.init_token("not-mine", token_pins.so, token_pins.user)
        with pytest.raises(ve.HsmError, match="conf this process wrote"):
            module.wipe_softhsm_token(info, user_pin=token_pins.user)
        assert module.find_token("not-mine") == info
    finally:
        module.close()
