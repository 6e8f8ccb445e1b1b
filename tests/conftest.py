"""Shared fixtures: real SoftHSM2 tokens, a fresh token directory for every test.

Nothing here mocks PKCS#11. Each test that asks for a token gets its own SoftHSM conf and
token directory under pytest's ``tmp_path``; the one PKCS#11 library of the process is
finalised and initialised again on it (``HsmModule.load`` does that when the conf changes),
which with ``C_InitToken`` through ctypes costs a few milliseconds per test.

Fixtures, from the bottom up:

``softhsm_dir``   a fresh directory holding ``softhsm2.conf`` and an empty ``tokens/``
``hsm_module``    the PKCS#11 module (``$PKCS11_MODULE``, default SoftHSM2) loaded on it;
                  closed (library finalised) after the test
``token_pins``    practice SO and user PINs, as :class:`vault.secret.Secret`
``token``         :class:`vault.hsm.TokenInfo` of an initialised token labelled "test-token"
``hsm_session``   a logged-in read-write :class:`vault.hsm.HsmSession` on ``token``,
                  closed after the test
``second_token``  another initialised token, "test-token-2", in the same module (restore
                  tests unwrap into it); same PINs

Tests are skipped (not failed) when the module is not installed:
``apt-get install softhsm2``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vault.hsm import PRACTICE_MODULE, HsmModule, HsmSession, TokenInfo, write_practice_conf
from vault.secret import Secret

PKCS11_MODULE = os.environ.get("PKCS11_MODULE", PRACTICE_MODULE)
TOKEN_LABEL = "test-token"
SECOND_TOKEN_LABEL = "test-token-2"
# Practice values only: these are in the repository.
SO_PIN = "so-pin-practice"
USER_PIN = "user-pin-practice"


@dataclass(frozen=True)
class TokenPins:
    so: Secret
    user: Secret


@pytest.fixture
def softhsm_dir(tmp_path: Path) -> Path:
    """A fresh SoftHSM home: ``softhsm2.conf`` + empty ``tokens/`` (written by vault.hsm)."""
    home = tmp_path / "softhsm"
    write_practice_conf(home)
    return home


@pytest.fixture
def hsm_module(softhsm_dir: Path) -> Iterator[HsmModule]:
    """The PKCS#11 module, (re-)initialised on this test's token directory."""
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip(f"PKCS#11 module {PKCS11_MODULE} not installed (apt-get install softhsm2)")
    module = HsmModule.load(PKCS11_MODULE, practice_conf=softhsm_dir / "softhsm2.conf")
    yield module
    module.close()


@pytest.fixture
def token_pins() -> Iterator[TokenPins]:
    """SO and user PIN of the test tokens (wiped after the test)."""
    pins = TokenPins(so=Secret(SO_PIN, kind="so-pin"), user=Secret(USER_PIN, kind="user-pin"))
    yield pins
    pins.so.wipe()
    pins.user.wipe()


@pytest.fixture
def token(hsm_module: HsmModule, token_pins: TokenPins) -> TokenInfo:
    """An initialised token labelled "test-token" (user PIN set)."""
    return hsm_module.init_token(TOKEN_LABEL, token_pins.so, token_pins.user)


@pytest.fixture
def hsm_session(hsm_module: HsmModule, token: TokenInfo, token_pins: TokenPins) -> Iterator[HsmSession]:
    """A logged-in read-write session on ``token``; closed (logged out) after the test."""
    with hsm_module.open_session(token, token_pins.user) as session:
        yield session


@pytest.fixture
def second_token(hsm_module: HsmModule, token_pins: TokenPins) -> TokenInfo:
    """Another fresh token, "test-token-2", in the same module (a restore target)."""
    return hsm_module.init_token(SECOND_TOKEN_LABEL, token_pins.so, token_pins.user)
