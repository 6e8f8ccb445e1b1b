"""``pin_policy = "hsm-procedure"``: a production token whose PINs the HSM vendor's own procedure set
(a Luna partition password, a CloudHSM crypto-user password) is adopted as it is; the console never
derives, sets or stores its PINs, and every ceremony that logs in takes the PIN holder's PIN by
reference (``hsm_pin = "env:NAME"`` in the script), wiped after the login.

Two real modules: opencryptoki's software token (its factory token initialised in the test "by the
vendor's procedure", with its own SO and user PINs) and SoftHSM under a vendor name (its library
copied to ``libvendor-hsm.so`` and configured by the "vendor", never by the console). On each: init
adopts the token, generate-key and sign run as scripted ceremonies, the ledger records the policy at
init and at every login (never the PIN), the token still opens with the vendor's PIN afterwards,
and the PIN appears in no file the console wrote. A wrong PIN and a missing PIN are refused with one
line and nothing recorded; a locked PIN is named (opencryptoki locks it for real).
"""

from __future__ import annotations

import json

import pytest

from support.ceremony_workspace import Workspace
from support.secret_scan import scan, text_needles
from support.vendor_token import (AIRGAP, VENDOR_SO_PIN, VENDOR_USER_PIN, procedure_home, unload,
                                  vendor_procedure)  # fmt: skip
from support import vendor_token
from tests.support import opencryptoki
from vault.secret import Secret


@pytest.fixture
def swtok():
    with opencryptoki.factory_token() as path:
        yield path


@pytest.fixture
def vendor_softhsm(tmp_path, monkeypatch):
    lib = vendor_token.vendor_softhsm(tmp_path, monkeypatch)
    yield lib
    unload(lib)


def production_home(ws: Workspace, module_path: str, monkeypatch, *, trusted_wrapping: str | None = None) -> None:
    procedure_home(ws.home, module_path, trusted_wrapping=trusted_wrapping)
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)


def init_generate_sign(ws: Workspace, *, backup: bool = False) -> dict:
    init = ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"),
                     allow_production_share_export=True)
    answers = {} if backup else {"generate.algorithm": "rsa-3072", "generate.backup": "no-backup",
                                 "generate.no-backup-reason": "the second module has no AES key wrap"}
    ws.run_ok("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                         answers=answers))
    ws.run_ok("sign", ws.variant("sign", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"))
    return {"init": init}


def assert_adopted_as_is(ws: Workspace, serial: str, init) -> None:
    from vault.ceremony.events import Notice

    with ws.vault() as v:
        events = [(e.action, json.loads(e.details_json)) for e in v.ledger.events(1)]
        actions = [a for a, _ in events]
        adopted = [d for a, d in events if a == "token.adopted"]
        assert len(adopted) == 1 and adopted[0]["pin_policy"] == "hsm-procedure" and adopted[0]["serial"] == serial
        assert "token.pin_fitted" not in actions and "token.pins_set" not in actions  # no PIN derived or set
        logins = [d for a, d in events if a == "token.login"]
        assert len(logins) >= 3 and all(d["pin_policy"] == "hsm-procedure" and d["pin_from"] == "env:HSM_USER_PIN"
                                        for d in logins)  # fmt: skip
        assert "payload.signed" in actions
        assert v.store.get_setting("token.pins") == "hsm-procedure"
        [committed] = [d for a, d in events if a == "share-set.committed"]
        assert committed["token_pins"] == "unchanged" and "vendor's procedure" in committed["token_pins_reason"]
        # the token still opens with the vendor's PIN: the console changed nothing
        with Secret(VENDOR_USER_PIN, "user-pin") as pin, v.hsm().open_session(v.token, pin) as session:
            assert [k.label for k in session.list_keys() if k.label == "signer-2026"]
    notices = [e.message for e in init.events if isinstance(e, Notice)]
    assert any("the HSM login is the PIN holder's, not the quorum's" in n for n in notices), notices
    needles = text_needles("vendor user PIN", VENDOR_USER_PIN) + text_needles("vendor SO PIN", VENDOR_SO_PIN)
    assert scan([ws.home, ws.root / "shares"], needles) == []


def test_opencryptoki_token_set_up_by_the_vendor_procedure_is_adopted_as_is_then_generate_key_and_sign(
        ws: Workspace, swtok, monkeypatch):
    serial = vendor_procedure(swtok, factory_so_pin=opencryptoki.FACTORY_SO_PIN)
    production_home(ws, swtok, monkeypatch)
    runs = init_generate_sign(ws)
    assert_adopted_as_is(ws, serial, runs["init"])


def test_softhsm_under_a_vendor_name_with_the_vendor_procedure_pins_adopted_as_is(ws: Workspace, vendor_softhsm,
                                                                                   monkeypatch):
    """SoftHSM wraps: the key is backed up under the quorum's KEK (the quorum still gates the backup), with a
    plain KEK because the operator set trusted_wrapping = "unsafe" (the SO PIN is the vendor's)."""
    serial = vendor_procedure(vendor_softhsm, factory_so_pin=None)
    production_home(ws, vendor_softhsm, monkeypatch, trusted_wrapping="unsafe")
    runs = init_generate_sign(ws, backup=True)
    assert_adopted_as_is(ws, serial, runs["init"])
    with ws.vault() as v:
        assert [e for e in v.ledger.events(1) if e.action.startswith("backup.")]


def test_a_backup_that_needs_the_sos_trusted_kek_is_refused_before_the_key_is_generated(ws: Workspace,
                                                                                        vendor_softhsm, monkeypatch):
    vendor_procedure(vendor_softhsm, factory_so_pin=None)
    production_home(ws, vendor_softhsm, monkeypatch, trusted_wrapping="safe")
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"),
              allow_production_share_export=True)
    refused = ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"))
    assert not refused.ok and "PIN_POLICY" in refused.one_line() and "security officer" in refused.one_line()
    with ws.vault() as v:
        assert not [e for e in v.ledger.events(1) if e.action == "key.generated"]
        with Secret(VENDOR_USER_PIN, "user-pin") as pin, v.hsm().open_session(v.token, pin) as session:
            assert session.list_keys() == [] or all(k.label != "signer-2026" for k in session.list_keys())


def test_a_wrong_or_missing_pin_is_refused_in_one_line_and_nothing_is_recorded(ws: Workspace, vendor_softhsm,
                                                                              monkeypatch):
    vendor_procedure(vendor_softhsm, factory_so_pin=None)
    production_home(ws, vendor_softhsm, monkeypatch)
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"),
              allow_production_share_export=True)
    gen = {"generate.algorithm": "rsa-3072", "generate.backup": "no-backup", "generate.no-backup-reason": "a test of the PIN refusals"}
    monkeypatch.setenv("HSM_USER_PIN", "00000000")
    wrong = ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                              answers=gen))
    assert not wrong.ok and "HSM_PIN" in wrong.one_line() and "env:HSM_USER_PIN" in wrong.one_line()
    assert "00000000" not in wrong.one_line()
    # what the token's retry flags report (SoftHSM sets COUNT_LOW after one wrong PIN, measured)
    assert "CKF_USER_PIN_COUNT_LOW" in wrong.one_line(), wrong.one_line()
    missing = ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, answers=gen))
    assert not missing.ok and "PIN_POLICY" in missing.one_line() and "hsm_pin" in missing.one_line()
    with ws.vault() as v:
        assert not [e for e in v.ledger.events(1) if e.action == "token.login" and e.ceremony_id
                    and e.ceremony_id.startswith("generate-key")]
        assert not [e for e in v.ledger.events(1) if e.action == "key.generated"]


def test_a_pin_in_clear_in_the_script_is_refused_before_anything_runs(ws: Workspace, vendor_softhsm, monkeypatch):
    from vault.ceremony.script import load_script
    from vault.errors import ScriptInvalid

    script = ws.variant("sign", airgap_override=AIRGAP, hsm_pin=VENDOR_USER_PIN)
    with pytest.raises(ScriptInvalid, match="hsm_pin") as caught:
        load_script(script)
    assert VENDOR_USER_PIN not in caught.value.one_line()


def test_opencryptoki_locks_the_pin_after_three_wrong_logins_and_the_ceremony_names_it(ws: Workspace, swtok,
                                                                                      monkeypatch):
    """Measured: swtok sets CKF_USER_PIN_COUNT_LOW after 1 failed C_Login, FINAL_TRY after 2 and LOCKED after
    3 (the third C_Login itself answers CKR_PIN_INCORRECT); then even the right PIN is refused. The console
    reads the flags after each refusal: the third run is named HSM_PIN_LOCKED at once."""
    vendor_procedure(swtok, factory_so_pin=opencryptoki.FACTORY_SO_PIN)
    production_home(ws, swtok, monkeypatch)
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"),
              allow_production_share_export=True)
    gen = {"generate.algorithm": "rsa-3072", "generate.backup": "no-backup",
           "generate.no-backup-reason": "a test of the PIN lockout"}
    monkeypatch.setenv("HSM_USER_PIN", "00000000")
    codes, lines = [], []
    for _ in range(3):  # one try of the counter per run: the third refused login is the one that locks
        wrong = ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                                  answers=gen))
        assert not wrong.ok
        codes.append("HSM_PIN_LOCKED" if "HSM_PIN_LOCKED" in wrong.one_line() else "HSM_PIN")
        lines.append(wrong.one_line())
    assert codes == ["HSM_PIN", "HSM_PIN", "HSM_PIN_LOCKED"], codes
    assert "CKF_USER_PIN_COUNT_LOW" in lines[0] and "CKF_USER_PIN_FINAL_TRY" in lines[1], lines
    assert "CKF_USER_PIN_LOCKED" in lines[2], lines[2]
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    locked = ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                               answers=gen))
    assert not locked.ok and "HSM_PIN_LOCKED" in locked.one_line() and "CKR_PIN_LOCKED" in locked.one_line()
    with ws.vault() as v:
        assert not [e for e in v.ledger.events(1) if e.action == "key.generated"]


def test_one_bad_run_costs_one_try_of_the_hsm_retry_counter(ws: Workspace, swtok, monkeypatch):
    """opencryptoki locks the user PIN after 3 failed C_Login. A ceremony refused the PIN stops at that
    refusal: no probe, abort path or end-signing logs in again. So two bad runs leave the right PIN
    working (2 tries, and the good login resets the count), and three bad runs lock it (3 tries)."""
    vendor_procedure(swtok, factory_so_pin=opencryptoki.FACTORY_SO_PIN)
    production_home(ws, swtok, monkeypatch)
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"),
              allow_production_share_export=True)
    gen = {"generate.algorithm": "rsa-3072", "generate.backup": "no-backup",
           "generate.no-backup-reason": "a test of the HSM's retry counter"}

    def generate(pin: str, label: str = "signer-2026"):
        monkeypatch.setenv("HSM_USER_PIN", pin)
        return ws.run("generate-key", ws.variant("generate-key", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                                 answers={**gen, "generate.label": label,
                                                          "backup.path": f"media/after-generate-{label}.ccb"}))

    def logins() -> list[str]:
        with ws.vault() as v:
            return [e.action for e in v.ledger.events(1) if e.action == "token.login"]

    before = len(logins())
    for _ in range(2):
        wrong = generate("00000000")
        assert not wrong.ok and "HSM_PIN" in wrong.one_line() and "HSM_PIN_LOCKED" not in wrong.one_line()
    assert len(logins()) == before  # a refused login is not recorded as a login
    right = generate(VENDOR_USER_PIN)  # 2 tries used of 3: the right PIN still logs in
    assert right.ok, right.one_line()
    with ws.vault() as v:  # each login of the run is recorded under the run's ceremony id
        logins = [json.loads(e.details_json) for e in v.ledger.events(1) if e.action == "token.login"
                  and e.ceremony_id == right.outcome.ceremony_id]
        assert logins and all(d["pin_from"] == "env:HSM_USER_PIN" and d["attempts"] == 1 for d in logins)
    for n in range(3):  # a good login reset the count: three bad runs are three tries, and the third locks
        wrong = generate("00000000", "signer-2027")
        assert not wrong.ok and ("HSM_PIN_LOCKED" in wrong.one_line()) == (n == 2), wrong.one_line()
    locked = generate(VENDOR_USER_PIN, "signer-2027")
    assert not locked.ok and "HSM_PIN_LOCKED" in locked.one_line()


class PowerLoss(BaseException):
    pass


def test_an_interrupted_reshare_under_hsm_procedure_points_a_wrong_pin_at_its_holder_never_at_the_shares(
        ws: Workspace, vendor_softhsm, monkeypatch):
    """A power loss inside a reshare's switch (bundle written, T2 not committed). Under hsm-procedure the
    reshare never re-keys the token, so the next quorum's login decides nothing: a wrong HSM PIN there is
    the PIN holder's to fix (one line naming the holder; the shares are not asked for again; the reshare
    stays unresolved), and with the right PIN the set whose shares were entered decides, recorded as
    such (token PINs not re-keyed, token.pins still hsm-procedure)."""
    from vault.ceremony.recovery import abort_unfinished, unfinished

    vendor_procedure(vendor_softhsm)
    production_home(ws, vendor_softhsm, monkeypatch, trusted_wrapping="unsafe")
    init_generate_sign(ws, backup=True)

    def hook(point, step):
        if point == "bundle-written":
            raise PowerLoss()

    with pytest.raises(PowerLoss):
        ws.run("reshare", ws.variant("reshare", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN"), hook=hook,
               allow_production_share_export=True)
    with ws.vault() as v:
        [u] = unfinished(v)
        assert "PINs are its vendor's and did not change" in u.why_not and "new set's PINs" not in u.why_not
        abort_unfinished(v, u.ceremony_id, "power cut during the switch")
        assert v.store.get_setting("reshare.pending")
    old = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
    new = [{"share": f"file:new-shares/{n}.share"} for n in ("alice", "bob")]

    monkeypatch.setenv("HSM_USER_PIN", "00000000")
    events = []
    wrong = ws.run("backup", ws.variant("backup", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                        answers={"quorum.share": new + old, "backup.path": "media/b1.ccb"}),
                   on_event=events.append)
    assert not wrong.ok and "HSM_PIN" in wrong.one_line(), wrong.one_line()
    assert "holder" in wrong.one_line() and "shares entered are not the problem" in wrong.one_line()
    assert "Enter the shares" not in wrong.one_line()
    assert [e for e in events if type(e).__name__ == "AnswerRejected" and e.code == "HSM_PIN"] == []  # no re-ask
    with ws.vault() as v:
        assert v.store.get_setting("reshare.pending")  # unresolved: nothing was decided on a refused login

    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    right = ws.run("backup", ws.variant("backup", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                        answers={"quorum.share": new, "backup.path": "media/b2.ccb"}))
    assert right.ok, right.one_line()
    with ws.vault() as v:
        [done] = [json.loads(e.details_json) for e in v.ledger.events_of(right.outcome.ceremony_id)
                  if e.action == "quorum.reshared"]
        assert done["completed_after_interruption"] is True and done["token_pins_rekeyed"] is False
        assert "shares entered decided" in done["token_pins_reason"]
        assert v.store.get_setting("token.pins") == "hsm-procedure" and not v.store.get_setting("reshare.pending")
        assert v.store.active_share_set().describe() == "2-of-3"
