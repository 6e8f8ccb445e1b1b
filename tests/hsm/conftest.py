"""tests/hsm runs on every real PKCS#11 module installed here: SoftHSM2 and opencryptoki.

``hsm_module`` is parametrised by ``pkcs11_backend``: each module-dependent test runs once on
a fresh SoftHSM token directory (as everywhere in the suite) and once on opencryptoki's
software token, reset to its factory state (tests/support/opencryptoki.py; those tests hold a
machine-wide lock, so they run one at a time). ``token`` initialises the token the way the
module needs: SoftHSM's free slot with the new SO PIN, opencryptoki's factory token with its
current SO PIN, then the new one. PINs fit every token here (opencryptoki: 4 to 8 characters).

Tests skip by what the token can do, never by the module's name: :func:`require` asks the
capability probe (or the token info) and skips with the measured reason, which ``-ra`` prints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PKCS11_MODULE, SECOND_TOKEN_LABEL, TOKEN_LABEL, TokenPins
from tests.support import opencryptoki
from vault.hsm import HsmModule, TokenInfo
from vault.secret import Secret

# Practice values only, short enough for every module here (opencryptoki: at most 8).
SO_PIN = "so-pin-8"
USER_PIN = "usr-pin8"
BACKENDS = ("softhsm", "opencryptoki")


@pytest.fixture(params=BACKENDS)
def pkcs11_backend(request) -> str:
    return request.param


@pytest.fixture
def factory_so_pin(pkcs11_backend: str) -> Secret | None:
    """The SO PIN a factory-fresh token of this module carries (None: C_InitToken sets it)."""
    if pkcs11_backend == "opencryptoki":
        return Secret(opencryptoki.FACTORY_SO_PIN, kind="so-pin")
    return None


@pytest.fixture
def hsm_module(pkcs11_backend: str, softhsm_dir: Path) -> Iterator[HsmModule]:
    if pkcs11_backend == "softhsm":
        if not os.path.exists(PKCS11_MODULE):
            pytest.skip(f"PKCS#11 module {PKCS11_MODULE} not installed (apt-get install softhsm2)")
        module = HsmModule.load(PKCS11_MODULE, practice_conf=softhsm_dir / "softhsm2.conf")
        yield module
        module.close()
        return
    reason = opencryptoki.unavailable()
    if reason:
        pytest.skip(reason)
    with opencryptoki.exclusive():
        opencryptoki.factory_reset()
        module = HsmModule.load(opencryptoki.module_path())
        try:
            yield module
        finally:
            module.close()


@pytest.fixture
def token_pins() -> Iterator[TokenPins]:
    pins = TokenPins(so=Secret(SO_PIN, kind="so-pin"), user=Secret(USER_PIN, kind="user-pin"))
    yield pins
    pins.so.wipe()
    pins.user.wipe()


@pytest.fixture
def token(hsm_module: HsmModule, token_pins: TokenPins, factory_so_pin: Secret | None) -> TokenInfo:
    """The module's token initialised as "test-token": a free slot, or the factory token."""
    return init_test_token(hsm_module, TOKEN_LABEL, token_pins, factory_so_pin)


@pytest.fixture
def second_token(hsm_module: HsmModule, token_pins: TokenPins, factory_so_pin: Secret | None, token) -> TokenInfo:
    """Another token in the same module; skipped where the module has no second one."""
    free = [info for info in hsm_module.slots() if not info.initialised]
    if not free:
        pytest.skip("the module offers no second token (every slot is initialised: measured with C_GetSlotList)")
    return init_test_token(hsm_module, SECOND_TOKEN_LABEL, token_pins, factory_so_pin)


def init_test_token(module: HsmModule, label: str, pins: TokenPins, factory_so_pin: Secret | None) -> TokenInfo:
    free = next(info for info in module.slots() if not info.initialised)
    return module.init_token(label, pins.so, pins.user, current_so_pin=factory_so_pin, target=free)


def require(session, algorithm=None, *, wrap: bool = False, generate: bool = False, sign: bool = False) -> None:
    """Skip unless the probe measured what the test needs on this token (reason printed)."""
    caps = session.capabilities()
    if wrap and not caps.self_test_ok:
        pytest.skip(f"no RFC 5649 key wrap on {caps.token_model}: {caps.self_test_error}")
    if algorithm is None:
        return
    found = caps[algorithm]
    if generate and not found.generate:
        pytest.skip(f"{caps.token_model} cannot generate {algorithm.value}: {found.note}")
    if sign and not found.sign:
        pytest.skip(f"{caps.token_model} cannot sign with {algorithm.value}: {found.note}")
    if wrap and not (found.wrap and found.unwrap):
        pytest.skip(f"{caps.token_model} cannot wrap/unwrap {algorithm.value}: {found.note}")


def signing_algorithm(session):
    """The cheapest signing algorithm the probe says this token generates and signs with."""
    from vault.types import KeyAlgorithm

    caps = session.capabilities()
    for algorithm in (KeyAlgorithm.EC_P256, KeyAlgorithm.ED25519, KeyAlgorithm.RSA_3072):
        if caps[algorithm].generate and caps[algorithm].sign:
            return algorithm
    pytest.skip(f"{caps.token_model} generates no key pair it can sign with")


# --- the practice token's own tests (SoftHSM only: it is the SoftHSM-specific module) ---------
@pytest.fixture
def softhsm_module(softhsm_dir: Path) -> Iterator[HsmModule]:
    if not os.path.exists(PKCS11_MODULE):
        pytest.skip(f"PKCS#11 module {PKCS11_MODULE} not installed (apt-get install softhsm2)")
    module = HsmModule.load(PKCS11_MODULE, practice_conf=softhsm_dir / "softhsm2.conf")
    yield module
    module.close()


@pytest.fixture
def softhsm_token(softhsm_module: HsmModule, token_pins: TokenPins) -> TokenInfo:
    return softhsm_module.init_token(TOKEN_LABEL, token_pins.so, token_pins.user)


@pytest.fixture
def softhsm_second_token(softhsm_module: HsmModule, token_pins: TokenPins, softhsm_token) -> TokenInfo:
    return softhsm_module.init_token(SECOND_TOKEN_LABEL, token_pins.so, token_pins.user)


@pytest.fixture
def softhsm_session(softhsm_module: HsmModule, softhsm_token: TokenInfo, token_pins: TokenPins):
    with softhsm_module.open_session(softhsm_token, token_pins.user) as session:
        yield session
