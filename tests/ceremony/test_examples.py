"""Every example script in ceremonies/examples/ replays on a practice home (real SoftHSM, real SQLite).

Each test replays the examples in their documented order up to its ceremony (restore comes last:
the token is lost first), then checks that the token's objects, the database and the ledger are
exactly as expected, and that `custodian ledger verify` passes.
"""

from __future__ import annotations

import json
import stat

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import ORDER, Workspace
from vault import errors as ve
from vault.operations import ActiveQuorum, verify_backup
from vault.secret import Secret
from vault.shares import ShareCollector
from vault.types import KeyAlgorithm, KeyState

QUORUM_RUN = ["ceremony.started", "environment.checked", "quorum.activated"]


def closing(attestations: int) -> list[str]:
    return ["ceremony.closing"] + ["ceremony.attested"] * attestations + ["ceremony.completed"]


AUTH = ["witness.authenticated"]  # the witness's passphrase, once per ceremony, before their first act
W = ["ceremony.witnessed"]  # a witnessed step's sign-off
R = ["review.confirmed"]  # the review before an irreversible HSM action

ACTIONS = {
    "init": ["ceremony.started", "environment.checked", "custodian.enrolled", "custodian.enrolled", "policy.chosen"]
    + AUTH + W + ["custodian.enrolled"] * 5
    + R + ["token.initialised"] + W + ["shares.exported", "shares.distributed"] + W
    + R + ["token.pins_set", "share-set.committed", "ledger.audit_key_created"] + W
    + closing(7),
    "generate-key": QUORUM_RUN + AUTH + R + ["key.generated"] + W + ["backup.written"] + W + closing(5),
    "sign": QUORUM_RUN + AUTH + R + ["payload.signed"] + W + closing(5),
    "backup": QUORUM_RUN + ["backup.written"] + AUTH + W + closing(5),
    "drill": QUORUM_RUN + ["drill.passed"] + AUTH + W + closing(5),
    "rotate": QUORUM_RUN + AUTH + R + ["key.rotated"] + W + ["backup.written"] + W + closing(5),
    "compromise": QUORUM_RUN + AUTH + R + ["key.compromised"] + W + closing(5),
    "destroy": QUORUM_RUN + AUTH + R + ["key.destroyed"] + W + closing(5),
    "reshare": QUORUM_RUN + ["policy.chosen"] + AUTH + W + ["shares.exported", "shares.distributed"] + W
    + R + ["reshare.prepared", "backup.rebackup", "token.pins_set", "quorum.reshared", "share-set.committed"] + W
    + closing(6),
    # a new token: the next end makes its own ledger audit key (one never leaves its HSM)
    "restore": QUORUM_RUN + AUTH + R + ["token.initialised"] + R + ["backup.restored"] + W + closing(4)[:-1]
    + ["ledger.audit_key_created", "ceremony.completed"],
}


def keys(v) -> list[tuple]:
    return [(k.label, k.algorithm, k.state, k.version) for k in v.store.list_keys()]


def quorum_of(ws: Workspace, v, directory: str = "shares") -> ActiveQuorum:
    return ActiveQuorum(Secret(ws.quorum_secret(directory)), v.store.active_share_set())


def backup_labels(ws: Workspace, v, path, directory: str = "shares") -> tuple[str, ...]:
    with quorum_of(ws, v, directory) as q:
        return verify_backup(path, q).labels


# --- what each example leaves behind ---------------------------------------------------------------------
def check_init(ws: Workspace, v) -> None:
    active = v.store.active_share_set()
    assert active.describe() == "3-of-5"
    holders = v.store.share_holders(active.id)
    assert sorted(h.custodian_name for h in holders) == ["alice", "bob", "carol", "dave", "erin"]
    assert all(h.verified_at for h in holders)
    assert {c.name: c.role.value for c in v.store.list_custodians()} == {
        "admin": "administrator", "wendy": "witness", "alice": "custodian", "bob": "custodian",
        "carol": "custodian", "dave": "custodian", "erin": "custodian"}
    assert v.store.list_keys() == [] and v.store.list_backups() == []
    files = sorted((ws.root / "shares").glob("*.share"))
    assert [f.stem for f in files] == ["alice", "bob", "carol", "dave", "erin"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # the token answers the PIN derived from the shares (and nothing else set it): transient PINs are gone
    assert ws.token_keys("shares", vault=v) == ()
    assert v.store.get_setting("token.pins") == "quorum"
    assert v.store.get_setting("token.serial") == v.hsm().find_token(v.token).serial
    from vault.doctor import recorded_capabilities

    caps = recorded_capabilities(v)
    assert caps["self_test_ok"] and caps["algorithms"]["aes-256"]["wrap"]


def check_generate_key(ws: Workspace, v) -> None:
    [key] = v.store.list_keys()
    assert (key.label, key.algorithm, key.state, key.version) == ("signer-2026", KeyAlgorithm.EC_P256, KeyState.ACTIVE, 1)
    assert ws.token_keys(vault=v) == (("signer-2026", key.cka_id, key.fingerprint),)
    [backup] = v.store.list_backups()
    assert backup.path == str(ws.root / "media" / "after-generate-signer-2026.ccb")
    assert backup_labels(ws, v, backup.path) == ("signer-2026",)


def check_sign(ws: Workspace, v) -> None:
    key = v.store.get_key_by_label("signer-2026")
    with ws_session(ws, v) as session:
        pem = session.public_key_pem(session.get_key("signer-2026"))
    (ws.root / "signer.pub.pem").write_text(pem)
    args = ["verify", "--public-key", str(ws.root / "signer.pub.pem"), "--payload", str(ws.root / "payload.txt"),
            "--signature", str(ws.root / "media" / "payload.sig")]
    assert custodian(args) == 0
    (ws.root / "tampered.txt").write_text((ws.root / "payload.txt").read_text().replace("10", "99"))
    args[4] = str(ws.root / "tampered.txt")
    assert custodian(args) == 1
    [event] = [e for e in v.ledger.events(1) if e.action == "payload.signed"]
    assert json.loads(event.details_json)["fingerprint"] == key.fingerprint


def ws_session(ws: Workspace, v):
    from vault.shares import derive_user_pin

    pin = derive_user_pin(Secret(ws.quorum_secret("shares")))
    try:
        return v.hsm().open_session(v.token, pin)
    finally:
        pin.wipe()


def check_backup(ws: Workspace, v) -> None:
    backups = v.store.list_backups()
    assert len(backups) == 2
    assert backups[-1].path == str(ws.root / "media" / "backup-1.ccb")
    assert backup_labels(ws, v, backups[-1].path) == ("signer-2026",)
    assert [k.label for k in v.store.list_keys()] == ["signer-2026"]


def check_drill(ws: Workspace, v) -> None:
    [drill] = v.store.list_drills()
    assert drill.result.value == "ok" and drill.keys_compared == 1
    assert drill.backup_id == v.store.latest_backup().id
    assert [t.label for t in v.hsm().tokens()] == ["custodian-practice"]  # the scratch token was wiped
    from vault.operations import next_drill_due

    assert not next_drill_due(v).overdue


def check_rotate(ws: Workspace, v) -> None:
    old, new = v.store.get_key_by_label("signer-2026"), v.store.get_key_by_label("signer-2026-v2")
    assert (old.state, new.state, new.version) == (KeyState.DEACTIVATED, KeyState.ACTIVE, 2)
    assert new.lineage == old.lineage and new.previous_key_id == old.id
    assert new.fingerprint != old.fingerprint
    assert ws.token_keys(vault=v) == tuple(sorted([(k.label, k.cka_id, k.fingerprint) for k in (old, new)]))
    assert backup_labels(ws, v, v.store.latest_backup().path) == ("signer-2026", "signer-2026-v2")


def check_compromise(ws: Workspace, v) -> None:
    old = v.store.get_key_by_label("signer-2026")
    assert old.state is KeyState.COMPROMISED
    assert "photocopied" in v.store.key_history(old.id)[-1].reason
    assert len(ws.token_keys(vault=v)) == 2  # marking does not touch the token


def check_destroy(ws: Workspace, v) -> None:
    old, new = v.store.get_key_by_label("signer-2026"), v.store.get_key_by_label("signer-2026-v2")
    assert old.state is KeyState.DESTROYED_COMPROMISED  # the tombstone stays
    assert ws.token_keys(vault=v) == (("signer-2026-v2", new.cka_id, new.fingerprint),)
    [event] = [e for e in v.ledger.events(1) if e.action == "key.destroyed"]
    holding = [b["path"] for b in json.loads(event.details_json)["backups_holding"]]
    assert holding == [b.path for b in v.store.list_backups()]  # all three bundles still hold it


def check_reshare(ws: Workspace, v) -> None:
    active = v.store.active_share_set()
    assert active.describe() == "2-of-3"
    assert sorted(h.custodian_name for h in v.store.share_holders(active.id)) == ["alice", "bob", "dave"]
    [old] = [s for s in v.store.list_share_sets() if s.id != active.id]
    assert old.status.value == "retired" and old.retired_at
    new = v.store.get_key_by_label("signer-2026-v2")
    assert ws.token_keys("new-shares", vault=v) == (("signer-2026-v2", new.cka_id, new.fingerprint),)
    with pytest.raises(ve.PinIncorrect):  # the old shares' PIN opens nothing any more
        ws.token_keys("shares", vault=v)
    from vault.ceremony import shareset

    collector = ShareCollector(shareset.public_of(v.store, active), ceremony_id="check",
                               known=shareset.known_sets(v.store))
    with pytest.raises(ve.ShareRetired, match=f"retired on {old.retired_at}"):
        collector.add(ws.shares("shares")["alice"])
    latest = v.store.latest_backup()
    assert latest.share_set_id == active.id
    assert backup_labels(ws, v, latest.path, "new-shares") == ("signer-2026-v2",)
    assert v.store.get_setting("reshare.pending") == ""
    events = {e.action: json.loads(e.details_json) for e in v.ledger.events(1)}
    assert events["quorum.reshared"]["token_pins_rekeyed"] is True
    assert events["shares.distributed"]["verify"] == "quiz"


def check_restore(ws: Workspace, v) -> None:
    new = v.store.get_key_by_label("signer-2026-v2")
    serial = v.hsm().find_token(v.token).serial
    assert new.token_serial == serial == v.store.get_setting("token.serial")
    [lost] = (ws.root / "lost-tokens").iterdir()
    assert serial != lost.name  # a different token
    assert ws.token_keys("new-shares", vault=v) == (("signer-2026-v2", new.cka_id, new.fingerprint),)
    assert v.store.get_key_by_label("signer-2026").state is KeyState.DESTROYED_COMPROMISED


CHECKS = {"init": check_init, "generate-key": check_generate_key, "sign": check_sign, "backup": check_backup,
          "drill": check_drill, "rotate": check_rotate, "compromise": check_compromise, "destroy": check_destroy,
          "reshare": check_reshare, "restore": check_restore}


@pytest.mark.parametrize("name", ORDER)
def test_example_script_replays(ws: Workspace, name: str):
    results = ws.replay(name)
    cid = results[name].outcome.ceremony_id
    with ws.vault() as v:
        assert [e.action for e in v.ledger.events_of(cid)] == ACTIONS[name]
        assert {s.status.value for s in v.store.steps_of(cid)} == {"completed"}
        CHECKS[name](ws, v)
    assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0


def test_every_ceremony_has_an_example_script():
    from support.ceremony_workspace import EXAMPLES, PKI_ORDER, RECOVERY_ONLY
    from vault.ceremony.definitions import load_catalogue
    from vault.ceremony.script import load_script

    catalogue = load_catalogue(None)
    from support.ceremony_workspace import ENVELOPE_ORDER, LIFECYCLE_ORDER, TRANSPORT_CEREMONIES

    envelope = set(ENVELOPE_ORDER) - {"rotate-dek-2027"}  # a rotate script
    assert sorted(catalogue) == sorted(set(ORDER) | set(PKI_ORDER) | set(LIFECYCLE_ORDER) | envelope
                                         | set(TRANSPORT_CEREMONIES) | set(RECOVERY_ONLY))
    for name, definition in catalogue.items():
        assert load_script(EXAMPLES / f"{name}.toml", definition).ceremony == name
