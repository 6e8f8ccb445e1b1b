"""The HSM login under ``pin_policy = "hsm-procedure"`` with an interactive PIN source (the console's
kind: its holder types the PIN; vault.operations.hsm_procedure.open_procedure_session).

The source here is a real ``HsmPinSource`` that hands out given PINs and keeps each request (no
secret in it); the token is real (the practice module under a vendor's name, and opencryptoki's
software token, whose retry counter locks). What is pinned: a wrong PIN is asked again only of the
holder, told what the token's retry flags say; at most MAX_ASKS asks; a locked PIN stops at once; a
PIN outside the token's limits never reaches C_Login; the holder's stop and any refusal end the
run's logins (one run never spends another try), and the next run asks afresh; every PIN is wiped.
"""

from __future__ import annotations

import pytest

from support.ceremony_workspace import Workspace
from support import opencryptoki, vendor_token
from support.vendor_token import AIRGAP, VENDOR_USER_PIN, procedure_home, unload, vendor_procedure
from vault.errors import PinEntryCancelled, PinIncorrect, PinLocked
from vault.hsm import PinTries
from vault.operations.hsm_procedure import MAX_ASKS, open_procedure_session, pin_source_for_run
from vault.secret import Secret

WRONG = "13572468"


class GivenPins:
    """An interactive source that answers with the given PINs in order (None: the holder stops)."""

    description = "typed by the PIN holder"
    interactive = True

    def __init__(self, *pins: str | None) -> None:
        self.pins = list(pins)
        self.requests = []
        self.handed: list[Secret] = []

    def ask(self, request):
        self.requests.append(request)
        pin = self.pins.pop(0)
        if pin is None:
            raise PinEntryCancelled("The PIN holder stopped the HSM login.")
        self.handed.append(Secret(pin, "user-pin"))
        return self.handed[-1]


def _init(ws: Workspace, lib: str, monkeypatch) -> None:
    procedure_home(ws.home, lib)
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                 answers={"policy.policy": "2-of-3"}, drop=("custodians.name:4", "custodians.name:5")),
              allow_production_share_export=True)
    monkeypatch.delenv("HSM_USER_PIN")


@pytest.fixture
def vendor_ws(tmp_path, monkeypatch):
    lib = vendor_token.vendor_softhsm(tmp_path, monkeypatch)
    vendor_procedure(lib)
    ws = Workspace(tmp_path / "ws", monkeypatch)
    _init(ws, lib, monkeypatch)
    yield ws
    unload(lib)


@pytest.fixture
def swtok_ws(tmp_path, monkeypatch):
    with opencryptoki.factory_token() as lib:
        vendor_procedure(lib, factory_so_pin=opencryptoki.FACTORY_SO_PIN)
        ws = Workspace(tmp_path / "ws", monkeypatch)
        _init(ws, lib, monkeypatch)
        yield ws


def login(vault, source):
    with open_procedure_session(vault, wrap_mechanism=None, ceremony_id="test-login") as session:
        return len(session.list_keys())


def logins(vault) -> list[dict]:
    import json

    return [json.loads(e.details_json) for e in vault.ledger.events(1)
            if e.action == "token.login" and e.ceremony_id == "test-login"]


def test_a_wrong_pin_is_asked_again_of_its_holder_with_the_tokens_retry_flags_and_every_pin_is_wiped(vendor_ws):
    source = GivenPins(WRONG, VENDOR_USER_PIN)
    with vendor_ws.vault() as v, pin_source_for_run(v, source):
        login(v, source)
        assert [r.attempt for r in source.requests] == [1, 2]
        first, second = source.requests
        assert first.problem is None and "vendor-partition" in first.token
        assert "refused that PIN" in second.problem and "Escape" in second.problem
        assert second.tries is PinTries.COUNT_LOW and "CKF_USER_PIN_COUNT_LOW" in second.problem  # measured
        assert all(s.wiped for s in source.handed)  # each PIN wiped once used
        [recorded] = logins(v)
        assert recorded == {"pin_policy": "hsm-procedure", "token_serial": recorded["token_serial"],
                            "pin_from": "typed by the PIN holder", "attempts": 2}


def test_a_pin_outside_the_tokens_length_limits_is_asked_again_before_it_reaches_the_hsm(vendor_ws):
    source = GivenPins("123", VENDOR_USER_PIN)  # the token takes 4 to 255 characters
    with vendor_ws.vault() as v, pin_source_for_run(v, source):
        login(v, source)
        assert "does not fit the token's limits (4 to 255" in source.requests[1].problem
        assert source.requests[1].tries is PinTries.NOT_REPORTED  # no wrong PIN reached the token
        assert logins(v)[0]["attempts"] == 1 and all(s.wiped for s in source.handed)


def test_after_max_asks_the_run_ends_its_logins_and_the_next_run_asks_afresh(vendor_ws):
    source = GivenPins(*[WRONG] * MAX_ASKS, VENDOR_USER_PIN)
    with vendor_ws.vault() as v:
        with pin_source_for_run(v, source):
            with pytest.raises(PinIncorrect, match="typed by the PIN holder"):
                login(v, source)
            assert len(source.requests) == MAX_ASKS
            with pytest.raises(PinIncorrect):  # the run's later login (end-signing): refused before C_Login
                login(v, source)
            assert len(source.requests) == MAX_ASKS
        with pin_source_for_run(v, source):  # the next run (the same source, as a console could keep one)
            login(v, source)
        assert len(source.requests) == MAX_ASKS + 1 and logins(v)[-1]["attempts"] == 1


def test_the_holder_stopping_ends_the_runs_logins_without_asking_again(vendor_ws):
    source = GivenPins(None)
    with vendor_ws.vault() as v, pin_source_for_run(v, source):
        with pytest.raises(PinEntryCancelled):
            login(v, source)
        with pytest.raises(PinEntryCancelled):  # the abort's end-signing does not ask the holder again
            login(v, source)
        assert len(source.requests) == 1 and logins(v) == []


def test_opencryptoki_says_final_try_before_the_third_pin_and_a_lock_stops_at_once(swtok_ws):
    """Measured: swtok sets USER_PIN_COUNT_LOW after 1 wrong PIN, FINAL_TRY after 2, LOCKED after 3."""
    source = GivenPins(WRONG, WRONG, VENDOR_USER_PIN)
    with swtok_ws.vault() as v, pin_source_for_run(v, source):
        login(v, source)
        assert [r.tries for r in source.requests] == [PinTries.NOT_REPORTED, PinTries.COUNT_LOW, PinTries.FINAL_TRY]
        assert "next wrong PIN locks it (CKF_USER_PIN_FINAL_TRY)" in source.requests[2].problem
    source = GivenPins(WRONG, WRONG, WRONG, VENDOR_USER_PIN)
    with swtok_ws.vault() as v, pin_source_for_run(v, source):
        with pytest.raises(PinLocked, match="CKF_USER_PIN_LOCKED"):
            login(v, source)
        assert len(source.requests) == 3 and source.pins == [VENDOR_USER_PIN]  # never asked after the lock
