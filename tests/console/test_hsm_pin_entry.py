"""``pin_policy = "hsm-procedure"`` in the console: the HSM user PIN typed by its holder.

A production home adopts a token "initialised by the vendor's procedure" (the practice module under
a vendor's name, tests/support/vendor_token.py: its SO and user PINs set by the test, never by the
console); init runs headless. Then generate-key runs through the screens with no PIN reference at
all: each login asks the holder in a masked dialog (console.modals.hsm_pin). A wrong PIN first:
the dialog comes back naming the refusal and what the token's retry flags report; the right PIN
then logs in. Everything the console wrote (the home: database, WAL, logs, config; what the screens
and messages carried) is scanned for both PINs. Escape at the dialog aborts the ceremony before
anything is done on the token, and the abort's end-signing does not ask again.
"""

from __future__ import annotations

import json

import pytest

from homes import ledger_actions
from player import CeremonyPlayer, start_from_launcher
from support.ceremony_workspace import Workspace, passphrase
from support.secret_scan import scan, text_needles
from support.vendor_token import AIRGAP, VENDOR_SO_PIN, VENDOR_USER_PIN, procedure_home, unload, vendor_procedure
from support import vendor_token
from tui_helpers import SIZE, MessageTap, until_screen

WRONG_PIN = "13572468"  # refused by the token (a distinctive string, so the scan cannot miss it)
PEOPLE = ("admin", "wendy", "alice", "bob", "carol")
QUORUM = ["alice", "bob"]


@pytest.fixture
def procedure_ws(tmp_path, monkeypatch):
    """An initialised production home under pin_policy "hsm-procedure" (2-of-3: alice, bob, carol)."""
    lib = vendor_token.vendor_softhsm(tmp_path, monkeypatch)
    ws = Workspace(tmp_path / "ws", monkeypatch)
    vendor_procedure(lib)
    # the operator's explicit choice (docs/hsm-support.md): the SO PIN is the vendor's, so no trusted KEK;
    # without it generate-key's backup step is refused by name before the PIN is ever asked
    procedure_home(ws.home, lib, trusted_wrapping="unsafe")
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                 answers={"policy.policy": "2-of-3"},
                                 drop=("custodians.name:4", "custodians.name:5")),
              allow_production_share_export=True)
    monkeypatch.delenv("HSM_USER_PIN")  # the console has no reference: only the holder knows the PIN
    yield ws
    unload(lib)


def console_on(ws: Workspace, make_app_on):
    from vault.ceremony.context import RunOptions

    return make_app_on(ws.home, ceremony_options=RunOptions(kdf_profile="fast-for-tests",
                                                            airgap_override_reason=AIRGAP))


async def play_generate_key(pilot, ws: Workspace, pins: list[str | None]):
    await start_from_launcher(pilot, "generate-key")
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, ws.shares(), quorum=QUORUM, passphrases={p: passphrase(p) for p in PEOPLE},
                            hsm_pins=pins, texts={"generate.label": "signer-2026",
                                                  "generate.no-backup-reason": "a test of the HSM PIN entry"},
                            choices={"generate.algorithm": "ec-p256", "generate.backup": "no-backup"},
                            paths={"backup.path": str(ws.root / "media" / "not-written.ccb")})
    outcome = await player.play()
    return player, outcome


async def test_generate_key_in_the_console_asks_the_hsm_pin_a_wrong_one_first_then_the_right_one(
        procedure_ws, make_app_on):
    ws = procedure_ws
    app = console_on(ws, make_app_on)
    tap = MessageTap()
    async with app.run_test(size=SIZE, message_hook=tap) as pilot:
        await until_screen(pilot, "DashboardScreen")
        # a wrong PIN, then the right one; every later login of the run (end-signing) is asked again
        player, outcome = await play_generate_key(pilot, ws, [WRONG_PIN] + [VENDOR_USER_PIN] * 4)
        assert outcome.ok, outcome.one_line()
        assert all(d["typed"] == "True" and d["shown"] == "False" for d in player.pin_dialogs), player.pin_dialogs
        first, second = player.pin_dialogs[:2]
        assert "vendor-partition" in first["hsm-pin-ask"] and not first["hsm-pin-problem"]
        assert "The HSM refused that PIN" in second["hsm-pin-problem"], second
        assert "Escape" in second["hsm-pin-problem"]  # the next step: type it again, or stop
        # what the token's retry flags report (the practice module sets COUNT_LOW after one wrong PIN)
        assert "CKF_USER_PIN_COUNT_LOW" in second["hsm-pin-tries"], second

        def facts(vault):
            logins = [json.loads(e.details_json) for e in vault.ledger.events(1)
                      if e.action == "token.login" and e.ceremony_id == outcome.ceremony_id]
            return logins, ledger_actions(vault, outcome.ceremony_id), [k.label for k in vault.store.list_keys()]

        logins, actions, labels = await app.bridge.run(facts)
        used = len(player.pin_dialogs)
        player_left = len(player.hsm_pins)
        screen_text = "\n".join(app.active_wizard.log_lines if app.active_wizard else [])
    assert "key.generated" in actions and "signer-2026" in labels
    assert logins and logins[0]["attempts"] == 2 and all(d["pin_from"] == "typed by the PIN holder" for d in logins)
    # one dialog per login (the session after the quorum, the backup step's, the end-signing's: the PIN
    # is wiped after each login, never kept for the next), plus one for the refused PIN
    assert len(logins) == used - 1 == 3 and player_left == 5 - used, " ".join(actions)
    needles = (text_needles("vendor user PIN", VENDOR_USER_PIN) + text_needles("wrong PIN", WRONG_PIN)
               + text_needles("vendor SO PIN", VENDOR_SO_PIN))
    assert scan([ws.home], needles) == []  # database, WAL, config, logs: nothing the console wrote
    messages = tap.joined() + screen_text
    assert [n.what for n in needles if n.data.decode() in messages] == []


async def test_escape_at_the_hsm_pin_aborts_the_ceremony_before_anything_is_done_on_the_token(
        procedure_ws, make_app_on):
    ws = procedure_ws
    app = console_on(ws, make_app_on)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        # one Escape: the abort's end-signing must not ask again (the player fails if it does)
        player, outcome = await play_generate_key(pilot, ws, [None])
        assert not outcome.ok and outcome.code == "HSM_PIN_CANCELLED", outcome.one_line()
        assert "The PIN holder stopped the HSM login" in outcome.message
        assert player.hsm_pins == [] and len(player.pin_dialogs) == 1

        def facts(vault):
            from vault.secret import Secret

            with Secret(VENDOR_USER_PIN, "user-pin") as pin, vault.hsm().open_session(vault.token, pin) as session:
                on_token = [k.label for k in session.list_keys()]
            return ledger_actions(vault, outcome.ceremony_id), [k.label for k in vault.store.list_keys()], on_token

        actions, labels, on_token = await app.bridge.run(facts)
        await pilot.press("enter")  # back to the dashboard
        await until_screen(pilot, "DashboardScreen")
        # the stop was that run's: the next ceremony asks the holder again, and logs in
        _again, second = await play_generate_key(pilot, ws, [VENDOR_USER_PIN] * 4)
        assert second.ok, second.one_line()
    assert "ceremony.aborted" in actions and "token.login" not in actions and "key.generated" not in actions
    assert "signer-2026" not in labels and on_token == []  # nothing on the token



async def test_the_idle_lock_clears_a_half_typed_pin_and_closing_the_console_stops_a_waiting_login(
        procedure_ws, make_app_on):
    """The PIN dialog under the idle lock: what was typed is cleared, the lock covers it, and after the
    unlock the holder types the PIN. Then the console is closed while the next login waits for the PIN:
    the login is stopped (HSM_PIN_CANCELLED), the ceremony's abort is recorded, and the close does not
    hang on the waiting owner thread."""
    from console.modals.hsm_pin import HsmPinDialog
    from console.modals.lock import LockScreen
    from console.safety import IdleClock
    from tui_helpers import type_fast, wait_until
    from vault.vault import Vault

    ws = procedure_ws
    now = [0.0]
    app = console_on(ws, lambda home, **kw: make_app_on(home, idle_clock=IdleClock(300, lambda: now[0]), **kw))
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, ws.shares(), quorum=QUORUM, passphrases={p: passphrase(p) for p in PEOPLE},
                                hsm_pins=[VENDOR_USER_PIN], texts={"generate.label": "signer-2026",
                                                                   "generate.no-backup-reason": "a test of the idle lock"},
                                choices={"generate.algorithm": "ec-p256", "generate.backup": "no-backup"},
                                paths={"backup.path": str(ws.root / "media" / "not-written.ccb")})
        while not isinstance(app.screen, HsmPinDialog):
            assert await player.step()
        dialog = app.screen
        await wait_until(pilot, lambda: app.focused is not None and app.focused.id == "hsm-pin")
        await type_fast(pilot, list(VENDOR_USER_PIN[:4]))
        assert dialog.query_one("#hsm-pin").value == VENDOR_USER_PIN[:4]
        now[0] += 301
        app._check_idle()
        await wait_until(pilot, lambda: isinstance(app.screen, LockScreen), what="the lock screen")
        assert dialog.query_one("#hsm-pin").value == ""  # nothing typed survives the lock
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is dialog and app.focused is not None, what="the dialog again")
        assert await player.step()  # the whole PIN now: the login goes on
        ceremony_id = player.wizard.engine.ceremony_id
        while not isinstance(app.screen, HsmPinDialog):  # the backup step's login
            assert await player.step()
        app.exit()
    v = Vault.open(ws.home)  # the console is closed: the ceremony's end is recorded
    try:
        ends = [e for e in v.ledger.events_of(ceremony_id) if e.action in ("ceremony.aborted", "ceremony.completed")]
        assert [e.action for e in ends] == ["ceremony.aborted"]
        details = json.loads(ends[0].details_json)
        assert details["code"] == "HSM_PIN_CANCELLED" and "console was closed" in details["reason"], details
        assert len([e for e in v.ledger.events_of(ceremony_id) if e.action == "token.login"]) == 1
    finally:
        v.close()


async def test_a_recorded_run_names_the_pin_by_reference_and_replays_headless(procedure_ws, make_app_on, tmp_path,
                                                                             monkeypatch):
    """Recording a ceremony whose PIN the holder typed: the script says hsm_pin = "env:HSM_USER_PIN"
    (never the PIN), and replays headless with that variable set."""
    import tomllib

    from vault.ceremony.script import run_script
    from vault.vault import Vault

    ws = procedure_ws
    script_path = tmp_path / "scripts" / "generate-key-recorded.toml"
    app = console_on(ws, make_app_on)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key", record=True)
        await until_screen(pilot, "NewFileDialog")
        app.screen.query_one("#new-file").value = str(script_path)
        await pilot.press("enter")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, ws.shares(), quorum=QUORUM, passphrases={p: passphrase(p) for p in PEOPLE},
                                hsm_pins=[VENDOR_USER_PIN] * 3, texts={"generate.label": "signer-2026",
                                                                       "generate.no-backup-reason": "recorded run"},
                                choices={"generate.algorithm": "ec-p256", "generate.backup": "no-backup"},
                                paths={"backup.path": str(ws.root / "media" / "recorded.ccb")})
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
    text = script_path.read_text(encoding="utf-8")
    assert VENDOR_USER_PIN not in text
    script = tomllib.loads(text)
    assert script["hsm_pin"] == "env:HSM_USER_PIN"
    script["answers"]["generate.label"] = ["signer-2027"]  # a second key, from the same recorded answers
    script["answers"]["backup.path"] = [str(ws.root / "media" / "replayed.ccb")]
    script["airgap_override"] = AIRGAP  # this test machine is not air-gapped
    from support.ceremony_workspace import script_text

    replay = tmp_path / "scripts" / "replay.toml"
    replay.write_text(script_text(script))
    for i, who in enumerate(QUORUM, 1):
        monkeypatch.setenv(f"SHARE_{i}", ws.shares()[who])
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    vault = Vault.open(ws.home)
    try:
        run = run_script(vault, replay, kdf_profile="fast-for-tests")
        assert run.ok, run.one_line()
    finally:
        vault.close()


async def test_a_ceremony_resumed_in_the_console_asks_the_holder_for_the_pin(procedure_ws, make_app_on, monkeypatch):
    """A generate-key cut by a crash in its generate step (driven headless with the PIN by reference,
    then dropped without an abort), resumed from the console's unfinished-ceremonies dialog: the
    resumed run's logins ask the holder too (the wizard sets its PIN source before the engine is made)."""
    from vault.ceremony.context import RunOptions
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.prompts import ChoiceAnswer, ShareAnswer
    from vault.operations.hsm_procedure import ReferencePinSource, pin_source_for_run
    from vault.secret import Secret
    from vault.vault import Vault

    ws = procedure_ws
    shares = ws.shares()
    monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
    vault = Vault.open(ws.home)
    try:
        with pin_source_for_run(vault, ReferencePinSource(ws.home, "env:HSM_USER_PIN")):
            engine = Engine(vault, find_definition("generate-key", ws.home),
                            options=RunOptions(kdf_profile="fast-for-tests", airgap_override_reason=AIRGAP))
            engine.start()
            engine.submit(ChoiceAnswer("admin"))
            engine.submit(ChoiceAnswer("wendy"))
            for who in QUORUM:
                engine.submit(ShareAnswer(Secret(shares[who], "share")))
            assert engine.pending().step_id == "generate", engine.pending()
            if engine._gen is not None:  # the crash: nothing aborted, the process's memory is gone
                engine._gen.close()
            engine.secrets.wipe()
            crashed = engine.ceremony_id
    finally:
        vault.close()
    monkeypatch.delenv("HSM_USER_PIN")
    app = console_on(ws, make_app_on)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "UnfinishedDialog")
        assert [u.ceremony_id for u in app.screen.items] == [crashed]
        await pilot.press("r")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, shares, quorum=QUORUM, passphrases={p: passphrase(p) for p in PEOPLE},
                                hsm_pins=[VENDOR_USER_PIN] * 3, texts={"generate.label": "signer-2026",
                                                                       "generate.no-backup-reason": "a resumed run"},
                                choices={"generate.algorithm": "ec-p256", "generate.backup": "no-backup"},
                                paths={"backup.path": str(ws.root / "media" / "resumed.ccb")})
        outcome = await player.play()
        assert outcome.ok and outcome.ceremony_id == crashed, outcome.one_line()
        assert player.pin_dialogs and "hsm-pin" in player.seen

        def typed_logins(vault):
            return [e for e in vault.ledger.events_of(crashed) if e.action == "token.login"
                    and json.loads(e.details_json)["pin_from"] == "typed by the PIN holder"]

        assert await app.bridge.run(typed_logins)


@pytest.fixture
def swtok_ws(tmp_path, monkeypatch):
    """The same home on opencryptoki's software token, whose user PIN locks after 3 wrong PINs."""
    from support import opencryptoki

    with opencryptoki.factory_token() as lib:
        vendor_procedure(lib, factory_so_pin=opencryptoki.FACTORY_SO_PIN)
        ws = Workspace(tmp_path / "ws", monkeypatch)
        procedure_home(ws.home, lib)
        monkeypatch.setenv("HSM_USER_PIN", VENDOR_USER_PIN)
        ws.run_ok("init", ws.variant("init", airgap_override=AIRGAP, hsm_pin="env:HSM_USER_PIN",
                                     answers={"policy.policy": "2-of-3"},
                                     drop=("custodians.name:4", "custodians.name:5")),
                  allow_production_share_export=True)
        monkeypatch.delenv("HSM_USER_PIN")
        yield ws


async def test_on_a_token_that_locks_the_dialog_says_the_next_wrong_pin_locks_it(swtok_ws, make_app_on):
    """opencryptoki: two wrong PINs, then the dialog names CKF_USER_PIN_FINAL_TRY; the right PIN then
    logs in (and resets the counter: the next login's dialog reports nothing)."""
    ws = swtok_ws
    app = console_on(ws, make_app_on)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, ws.shares(), quorum=QUORUM, passphrases={p: passphrase(p) for p in PEOPLE},
                                hsm_pins=[WRONG_PIN, WRONG_PIN] + [VENDOR_USER_PIN] * 4,
                                texts={"generate.label": "signer-2026",
                                       "generate.no-backup-reason": "the token has no AES key wrap"},
                                choices={"generate.algorithm": "rsa-3072", "generate.backup": "no-backup"},
                                paths={"backup.path": str(ws.root / "media" / "not-written.ccb")})
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
    tries = [d["hsm-pin-tries"] for d in player.pin_dialogs]
    assert "CKF_USER_PIN_COUNT_LOW" in tries[1] and "next wrong PIN locks it (CKF_USER_PIN_FINAL_TRY)" in tries[2], tries
    assert tries[3] == "", tries  # the good login reset the token's counter
