"""Init's order on a real token: the token first (transient PINs in memory), then the quorum secret
from its RNG, the shares, and last the derived PINs together with the share set.

And what a stop in between leaves: an empty token whose PINs are lost — said so on resume and
abort; in a practice home discarded (at once while the PINs are in memory, else by the next init);
in production refused until the vendor's tools reset it.
"""

from __future__ import annotations

import json
import shutil

import pytest

from support.ceremony_workspace import Workspace
from vault import errors as ve
from vault.ceremony.recovery import abort_unfinished, resume, unfinished


class PowerLoss(BaseException):
    pass


def test_the_token_exists_before_the_quorum_secret_and_gets_the_derived_pins_at_the_commit(ws: Workspace):
    seen = {}

    def hook(point, step):
        if point == "step-started" and step.id == "new-quorum":
            with ws.vault() as v:  # a second connection, as another process would see it
                seen["tokens"] = [t.label for t in v.hsm().tokens()]
                seen["pins"] = v.store.get_setting("token.pins")
                seen["sets"] = v.store.list_share_sets()
        if point == "pins-rekeyed":
            seen["rekeyed_in_commit"] = step.id

    result = ws.run_ok("init", hook=hook)
    # the RNG the new quorum secret mixed in was the vault's own token's (no scratch token was made)
    assert seen == {"tokens": ["custodian-practice"], "pins": "transient", "sets": [], "rekeyed_in_commit": "commit"}
    with ws.vault() as v:
        events = [(e.action, json.loads(e.details_json)) for e in v.ledger.events_of(result.outcome.ceremony_id)]
        actions = [a for a, _ in events]
        assert actions.index("token.initialised") < actions.index("shares.distributed") < actions.index(
            "token.pins_set") < actions.index("share-set.committed")
        assert dict(events)["token.initialised"]["pins"] == "transient"
        assert v.store.get_setting("token.pins") == "quorum"
    assert ws.token_keys() == ()  # the derived user PIN opens it


@pytest.mark.parametrize("point, step_id", [("step-started", "distribute"), ("pins-rekeyed", "commit")])
def test_a_crash_between_token_init_and_commit_then_abort_then_init_again(ws: Workspace, point, step_id):
    def hook(p, step):
        if p == point and step.id == step_id:
            raise PowerLoss()

    with pytest.raises(PowerLoss):
        ws.run("init", hook=hook)
    first_serial = ws.token_serial()
    with ws.vault() as v:
        [u] = unfinished(v)
        assert u.step_id == step_id and not u.resumable
        assert "the token was initialised with transient PINs held only in memory; it is empty and its PINs are " \
               "lost (practice: the next init discards and re-initialises it" in u.why_not
        with pytest.raises(ve.PreconditionFailed, match="its PINs are lost"):
            resume(v, u.ceremony_id)
        abort_unfinished(v, u.ceremony_id, "power cut during init")
        orphaned = [json.loads(e.details_json) for e in v.ledger.events_of(u.ceremony_id) if e.action == "token.orphaned"]
        assert orphaned[0]["serial"] == first_serial
        assert v.store.active_share_set() is None  # the commit never happened (or was rolled back)
    # the next init discards the empty practice token and starts over
    for f in (ws.root / "shares").glob("*.share"):
        f.unlink()  # the share cards of the failed init are void (shredded)
    result = ws.run_ok("init")
    with ws.vault() as v:
        discarded = [json.loads(e.details_json) for e in v.ledger.events_of(result.outcome.ceremony_id)
                     if e.action == "token.discarded"]
        assert discarded[0]["serial"] == first_serial
        assert [t.label for t in v.hsm().tokens()] == ["custodian-practice"]
        assert v.hsm().find_token(v.token).serial != first_serial
        assert v.ledger.verify().ok
    assert ws.token_keys() == ()


def test_an_init_stopped_in_process_discards_its_practice_token_at_once(ws: Workspace):
    script = ws.variant("init", answers={"distribute.ready:alice": {"abort": "alice did not come"}})
    result = ws.run("init", script)
    assert not result.ok and result.outcome.step_id == "distribute"
    with ws.vault() as v:
        assert v.hsm().tokens() == []
        assert v.store.get_setting("token.serial") == "" and v.store.get_setting("token.pins") == ""
        events = v.ledger.events_of(result.outcome.ceremony_id)
        actions = [e.action for e in events]
        assert actions[-1] == "ceremony.aborted" and "token.discarded" in actions
        undone = [e.details["what"] for e in events if e.action == "ceremony.undone"]
        # the abort undoes the enrollments of the failed init (recovery rule of enroll)
        assert sum(line.startswith("withdrew the enrollment of ") for line in undone) == 7, undone
        assert v.store.list_custodians(status=None) == []
    ws.run_ok("init")  # nothing left in the way
    assert ws.token_keys() == ()


def test_production_keeps_an_orphaned_token_and_says_how_to_reset_it(ws: Workspace, tmp_path, monkeypatch):
    from vault.home import create_production_home
    from vault.hsm import PRACTICE_MODULE, HsmModule, write_practice_conf

    # SoftHSM stands in for the vendor's module; a production home names no SoftHSM conf, so the
    # "HSM" is whatever SOFTHSM2_CONF the library was started with: a fresh one of this test.
    conf = write_practice_conf(tmp_path / "production-hsm")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    HsmModule.load(PRACTICE_MODULE, practice_conf=conf)
    create_production_home(ws.home, PRACTICE_MODULE, "vault-hsm")
    script = ws.variant("init", airgap_override="test machine: the air gap is simulated",
                        answers={"distribute.ready:bob": {"abort": "the room was interrupted"}})
    result = ws.run("init", script, allow_production_share_export=True)
    assert not result.ok
    with ws.vault() as v:
        [token] = v.hsm().tokens()
        assert token.label == "vault-hsm"  # a production token is never wiped by the console
        [orphan] = [json.loads(e.details_json) for e in v.ledger.events_of(result.outcome.ceremony_id)
                    if e.action == "token.orphaned"]
        assert orphan["serial"] == token.serial
    again = ws.variant("init", airgap_override="test machine: the air gap is simulated", share_dir="shares-2")
    result = ws.run("init", again, allow_production_share_export=True)
    assert not result.ok and result.outcome.code == "HSM_TOKEN_IN_USE"
    assert "Reset it with the HSM vendor's tools" in result.outcome.message
    # the vendor reset: the token is wiped and uninitialised (its directory removed, as SoftHSM's
    # --delete-token does); the next init recognises it, records the old attempt and starts again
    from vault.hsm.practice_token import _token_dir as _softhsm_token_dir

    with ws.vault() as v:
        v.hsm().close()
    shutil.rmtree(_softhsm_token_dir(tmp_path / "production-hsm" / "tokens", token.serial))
    HsmModule.load(PRACTICE_MODULE, practice_conf=conf)
    third = ws.variant("init", airgap_override="test machine: the air gap is simulated", share_dir="shares-3")
    result = ws.run("init", third, allow_production_share_export=True)
    assert result.ok, result.one_line()
    with ws.vault() as v:
        [reset] = [e.details for e in v.ledger.events() if e.action == "token.reset_recognised"]
        assert reset["serial"] == token.serial
        [new] = v.hsm().tokens()
        assert new.serial != token.serial and v.store.get_setting("token.serial") == new.serial
        assert v.ledger.verify().ok
