"""A key's whole life through the screens, on one initialised PRACTICE home (real SoftHSM token):
generate-key, backup, drill, rotate, destroy — each started from the ceremony launcher and
played with the keyboard; after each, the token's objects, the database and the ledger.

One test chains them (each ceremony needs the one before; a fresh home each would repeat them).
The home was initialised headless once (homes.py); init through the screens is test_ceremonies.
"""

from __future__ import annotations

from homes import ledger_actions, token_labels
from leaks import scan_dirs
from player import CeremonyPlayer, back_to_dashboard, start_from_launcher
from tui_helpers import SIZE, until_screen

QUORUM = ["alice", "bob"]


async def play(pilot, name: str, prepared, **kwargs):
    await start_from_launcher(pilot, name)
    await until_screen(pilot, "WizardScreen")
    player = CeremonyPlayer(pilot, dict(prepared.shares), quorum=QUORUM, **kwargs)
    outcome = await player.play()
    assert outcome.ok, outcome.one_line()
    await back_to_dashboard(pilot)
    return outcome


async def test_generate_backup_drill_rotate_destroy_through_the_screens(initialised, make_app_on, tmp_path):
    app = make_app_on(initialised.home)
    shares = [initialised.shares[c] for c in QUORUM]
    media = tmp_path / "media"
    media.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")

        # -- generate-key: an EC P-256 key, backed up in the same ceremony ------------------------
        out = await play(pilot, "generate-key", initialised, texts={"generate.label": "master-1"},
                         choices={"generate.algorithm": "ec-p256", "generate.backup": "backup"},
                         paths={"backup.path": str(media / "after-generate.ccb")})

        def after_generate(vault):
            key = vault.store.get_key_by_label("master-1")
            backup = vault.store.latest_backup()
            return (key.state.value, key.version, key.algorithm.value, backup.key_count, backup.path,
                    ledger_actions(vault, out.ceremony_id), vault.ledger.verify().ok)

        state, version, alg, count, path, actions, chain_ok = await app.bridge.run(after_generate)
        assert (state, version, alg, count) == ("active", 1, "ec-p256", 1)
        assert path.endswith("after-generate.ccb") and (media / "after-generate.ccb").is_file()
        assert {"quorum.activated", "key.generated", "backup.written", "ceremony.completed"} <= set(actions)
        assert actions[0] == "ceremony.started" and actions[-1] == "ceremony.completed" and chain_ok
        assert await app.bridge.run(token_labels, shares) == ["master-1:ec-p256"]

        # -- backup: a second bundle ----------------------------------------------------------------
        out = await play(pilot, "backup", initialised, paths={"backup.path": str(media / "backup-2.ccb")})

        def after_backup(vault):
            return (len(vault.store.list_backups()), vault.store.latest_backup().path,
                    ledger_actions(vault, out.ceremony_id))

        n_backups, path, actions = await app.bridge.run(after_backup)
        assert n_backups == 2 and path.endswith("backup-2.ccb") and (media / "backup-2.ccb").is_file()
        assert "backup.written" in actions and actions[-1] == "ceremony.completed"

        # -- drill: restore the latest bundle into a scratch token and compare ---------------------
        out = await play(pilot, "drill", initialised, paths={"drill.bundle": "latest"})

        def after_drill(vault):
            last = vault.store.last_drill(ok_only=True)
            return last is not None and last.ceremony_id == out.ceremony_id, ledger_actions(vault, out.ceremony_id)

        drilled, actions = await app.bridge.run(after_drill)
        assert drilled and "drill.passed" in actions and "drill.failed" not in actions
        assert await app.bridge.run(token_labels, shares) == ["master-1:ec-p256"]  # scratch token gone

        # -- rotate: master-1 deactivated, master-1-v2 active (and backed up) ----------------------
        out = await play(pilot, "rotate", initialised, choices={"rotate.key": "master-1"},
                         paths={"backup.path": str(media / "after-rotate.ccb")})

        def after_rotate(vault):
            return ({k.label: (k.state.value, k.version) for k in vault.store.list_keys()},
                    ledger_actions(vault, out.ceremony_id))

        keys, actions = await app.bridge.run(after_rotate)
        assert keys == {"master-1": ("deactivated", 1), "master-1-v2": ("active", 2)}
        assert "key.rotated" in actions

        # -- destroy: master-1, its label typed to confirm --------------------------------------------
        out = await play(pilot, "destroy", initialised, choices={"destroy.key": "master-1"})

        def after_destroy(vault):
            key = vault.store.get_key_by_label("master-1")
            return key.state.value, ledger_actions(vault, out.ceremony_id), vault.ledger.verify().ok

        state, actions, chain_ok = await app.bridge.run(after_destroy)
        assert state == "destroyed" and "key.destroyed" in actions and chain_ok
        assert await app.bridge.run(token_labels, shares) == ["master-1-v2:ec-p256"]
    # nothing secret on disk: the home (database, WAL, logs, token files) and the three bundles
    assert not scan_dirs([initialised.home, media], initialised.shares)
