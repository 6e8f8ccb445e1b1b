"""PRACTICE homes for the console's tests, real SoftHSM token and SQLite, built once and copied.

``build_initialised_home(dir)`` runs the init ceremony headless (vault.ceremony.script.run_script,
the engine's own script runner) with the practice people of console.practice: admin, wendy, and
custodians alice, bob, carol holding a 2-of-3 set; the shares land in ``dir/shares``. Tests copy
that home (``copy_home``: the token directory and the database; the SoftHSM conf is written again
for the copy) so every test starts from the same initialised vault in a few milliseconds.

The TUI's own init is tested through the screens in test_ceremonies.py; this is only setup.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from console.practice import PRACTICE_PEOPLE

CUSTODIANS = ("alice", "bob", "carol")

INIT_SCRIPT = """\
format = 1
ceremony = "init"
share_dir = "shares"
verify = "full"

[defaults]
checklists = "confirm"
witness = "confirm"
attest = "agree"

[passphrases]
{passphrases}

[answers]
"administrator.name" = "admin"
"witness.name" = "wendy"
"policy.policy" = "2-of-3"
"policy.passphrase" = false
"policy.drill-interval-days" = 90
"custodians.name:1" = "alice"
"custodians.name:2" = "bob"
"custodians.name:3" = "carol"
"""


@dataclass(frozen=True)
class PreparedHome:
    home: Path
    shares: dict[str, str]  # custodian -> PRACTICE share text


def build_initialised_home(root: Path) -> PreparedHome:
    from vault.ceremony.script import run_script
    from vault.vault import Vault

    root.mkdir(parents=True, exist_ok=True)
    pp_dir = root / "pp"
    pp_dir.mkdir()
    for name in ("admin", "wendy", *CUSTODIANS):
        (pp_dir / name).write_text(PRACTICE_PEOPLE[name], encoding="utf-8")
    script = root / "init.toml"
    script.write_text(INIT_SCRIPT.format(passphrases="\n".join(
        f'{name} = "file:pp/{name}"' for name in ("admin", "wendy", *CUSTODIANS))), encoding="utf-8")
    home = root / "home"
    vault = Vault.open(home)
    try:
        run = run_script(vault, script, kdf_profile="fast-for-tests")
        assert run.ok, run.one_line()
    finally:
        vault.close()
    shares = {c: (root / "shares" / f"{c}.share").read_text(encoding="utf-8").strip() for c in CUSTODIANS}
    return PreparedHome(home, shares)


def copy_home(prepared: PreparedHome, dest: Path) -> PreparedHome:
    from vault.hsm import write_practice_conf

    shutil.copytree(prepared.home, dest)
    write_practice_conf(dest)  # the copy's conf points at the copy's tokens/
    return PreparedHome(dest, dict(prepared.shares))


# --- facts about a home, read on the vault's owner thread (``await app.bridge.run(fn)``) ----------
def ledger_actions(vault, ceremony_id: str | None = None) -> list[str]:
    rows = vault.store.ledger_rows_of_ceremony(ceremony_id) if ceremony_id else vault.store.ledger_rows()
    return [r.action for r in rows]


def token_labels(vault, shares: list[str]) -> list[str]:
    """The labels of the objects on the vault's token, seen in a session opened with the quorum.

    (Activating the quorum appends ``quorum.activated`` to the ledger: read the ledger first.)
    """
    from vault.ceremony import shareset
    from vault.operations.quorum import activate, open_token_session
    from vault.shares import ShareCollector

    record = shareset.active(vault.store)
    collector = ShareCollector(shareset.public_of(vault.store, record), ceremony_id="test-token-check")
    for share in shares:
        collector.add(share)
    with activate(vault, collector, None, actor="test") as quorum:
        with open_token_session(vault, quorum) as session:
            return sorted(f"{k.label}:{k.algorithm.value}" for k in session.list_keys())
