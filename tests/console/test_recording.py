"""Recording: the launcher's ``R`` runs a ceremony through the screens and writes it as a script
(every answer; secrets only as ``env:`` references); the script replays headless with the
engine's own runner (vault.ceremony.script.run_script) to the same result on an identical home.
"""

from __future__ import annotations

import tomllib

from homes import copy_home, ledger_actions, token_labels
from leaks import leaks, scan_dirs
from player import CeremonyPlayer, back_to_dashboard, start_from_launcher
from tui_helpers import SIZE, until_screen
from vault.ceremony.script import run_script
from vault.vault import Vault

from console.practice import PRACTICE_PEOPLE


def key_facts(vault, ceremony_id):
    key = vault.store.get_key_by_label("recorded-key")
    return (key.algorithm.value, key.state.value, key.backup.value, ledger_actions(vault, ceremony_id))


async def test_record_generate_key_then_replay_headless(_initialised_template, initialised, make_app_on, tmp_path,
                                                        monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    monkeypatch.chdir(run_dir)  # the bundle path is typed relative: the replay resolves it next to the script
    script_path = tmp_path / "scripts" / "generate-key-recorded.toml"
    app = make_app_on(initialised.home)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await start_from_launcher(pilot, "generate-key", record=True)
        await until_screen(pilot, "NewFileDialog")
        box = app.screen.query_one("#new-file")
        assert box.value.endswith(".toml") and "scripts" in box.value  # suggested under the home
        box.value = str(script_path)
        await pilot.press("enter")
        await until_screen(pilot, "WizardScreen")
        player = CeremonyPlayer(pilot, dict(initialised.shares), quorum=["alice", "bob"],
                                texts={"generate.label": "recorded-key"},
                                choices={"generate.algorithm": "ec-p384"}, paths={"backup.path": "recorded.ccb"})
        outcome = await player.play()
        assert outcome.ok, outcome.one_line()
        wizard = player.wizard
        assert wizard.recorded == script_path
        assert str(script_path) in str(wizard.query_one("#wizard-result").render())
        recorded = await app.bridge.run(key_facts, outcome.ceremony_id)
        recorded_token = await app.bridge.run(token_labels, [initialised.shares["alice"], initialised.shares["bob"]])
        await back_to_dashboard(pilot)

    text = script_path.read_text(encoding="utf-8")
    assert not leaks(text, initialised.shares)  # references only
    assert not scan_dirs([script_path.parent, initialised.home], initialised.shares)
    script = tomllib.loads(text)
    assert script["ceremony"] == "generate-key"
    assert script["answers"]["quorum.share"] == [{"share": "env:SHARE_1"}, {"share": "env:SHARE_2"}]
    assert script["answers"]["generate.label"] == ["recorded-key"]
    assert set(script["passphrases"]) == {"admin", "wendy", "alice", "bob"}

    # replay on an identical home, headless, with the references set
    replay_home = copy_home(_initialised_template, tmp_path / "home-replay")
    monkeypatch.setenv("SHARE_1", initialised.shares["alice"])
    monkeypatch.setenv("SHARE_2", initialised.shares["bob"])
    for name in ("admin", "wendy", "alice", "bob"):
        monkeypatch.setenv(f"PASSPHRASE_{name.upper()}", PRACTICE_PEOPLE[name])
    vault = Vault.open(replay_home.home)
    try:
        run = run_script(vault, script_path)
        assert run.ok, run.one_line()
        replayed = key_facts(vault, run.outcome.ceremony_id)
        replayed_token = token_labels(vault, [initialised.shares["alice"], initialised.shares["bob"]])
    finally:
        vault.close()
    assert replayed == recorded
    assert recorded[:3] == ("ec-p384", "active", "backed-up") and recorded[3][-1] == "ceremony.completed"
    assert replayed_token == recorded_token == ["recorded-key:ec-p384"]
    assert (run_dir / "recorded.ccb").is_file() and (script_path.parent / "recorded.ccb").is_file()
