"""Reshare on a real token: which state each failure leaves (vault/operations/reshare.py).

* success: the NEW state — new shares open the token, the old ones are refused as retired (with
  the date) and their PIN opens nothing;
* a failure (an error) before, at or after the token's re-key: the OLD state, completely — old
  shares and PIN work, the new bundle is gone, the new set is abandoned;
* a power loss right after the re-key (the one window where token and database disagree): the
  next quorum activation accepts either set's shares; the token decides, and the switch is
  completed (NEW) or abandoned (OLD).
"""

from __future__ import annotations

import json
import shutil

import pytest

from support.ceremony_workspace import Workspace
from vault import errors as ve
from vault.ceremony.recovery import abort_unfinished, unfinished
from vault.secret import Secret
from vault.shares import derive_so_pin

OLD = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
NEW = [{"share": f"file:new-shares/{n}.share"} for n in ("alice", "bob")]


class PowerLoss(BaseException):
    pass


@pytest.fixture
def before_reshare(ws: Workspace) -> Workspace:
    ws.replay("destroy")  # init, a key, backups, rotated, one destroyed
    return ws


def state(ws: Workspace) -> dict:
    with ws.vault() as v:
        sets = {s.name: s.status.value for s in v.store.list_share_sets()}
        return {"sets": sets, "active": v.store.active_share_set().describe(), "backups": len(v.store.list_backups()),
                "marker": v.store.get_setting("reshare.pending") or ""}


def assert_old_state(ws: Workspace, keys_before: tuple, backups_before: int) -> None:
    assert ws.token_keys("shares") == keys_before  # the old PIN opens the token, every key there
    st = state(ws)
    assert st["active"] == "3-of-5" and st["backups"] == backups_before and st["marker"] == ""
    assert not (ws.root / "media" / "after-reshare.ccb").exists()
    # and a ceremony with the old shares works
    ws.run_ok("backup", ws.variant("backup", answers={"backup.path": "media/after-failed-reshare.ccb"}))


def test_a_token_refusing_the_re_key_leaves_the_old_state(before_reshare: Workspace):
    """The token's SO PIN was changed out of band, so C_SetPIN fails: nothing of the reshare stays."""
    ws = before_reshare
    keys, backups = ws.token_keys("shares"), state(ws)["backups"]
    with ws.vault() as v, derive_so_pin(Secret(ws.quorum_secret("shares"))) as so:
        v.hsm().set_pins(v.token, so_pin_old=so, so_pin_new=Secret("so-pin-changed-by-someone"),
                         user_pin_new=_user_pin(ws, "shares"))
    result = ws.run("reshare")
    assert not result.ok and result.outcome.step_id == "switch" and result.outcome.code == "HSM_PIN"
    with ws.vault() as v:
        actions = [e.action for e in v.ledger.events_of(result.outcome.ceremony_id)]
        undone = [e.details["what"] for e in v.ledger.events_of(result.outcome.ceremony_id)
                  if e.action == "ceremony.undone"]
        assert [a for a in actions if a != "ceremony.undone"][-3:] == [
            "reshare.prepared", "reshare.abandoned", "ceremony.aborted"]
        assert undone and all(line.startswith("removed the void share file") for line in undone)
    # the administrator puts the quorum's SO PIN back (a backup on a token with trusted wrapping
    # needs it: the SO makes the backup's KEK trusted), then the old state works as before
    with ws.vault() as v, derive_so_pin(Secret(ws.quorum_secret("shares"))) as so:
        v.hsm().set_pins(v.token, so_pin_old=Secret("so-pin-changed-by-someone"), so_pin_new=so,
                         user_pin_new=_user_pin(ws, "shares"))
    assert_old_state(ws, keys, backups)


def _user_pin(ws: Workspace, directory: str) -> Secret:
    from vault.shares import derive_user_pin

    return derive_user_pin(Secret(ws.quorum_secret(directory)))


def test_a_failure_after_the_re_key_puts_the_old_pins_back(before_reshare: Workspace):
    ws = before_reshare
    keys, backups = ws.token_keys("shares"), state(ws)["backups"]

    def hook(point, step):
        if point == "pins-rekeyed":
            # a copy of the new shares for this test only: the abort removes the void share files
            shutil.copytree(ws.root / "new-shares", ws.root / "new-shares-copy")
            raise ve.HsmCheckFailed("simulated: the token misbehaved right after the re-key")

    result = ws.run("reshare", hook=hook)
    assert not result.ok and result.outcome.code == "HSM_CHECK"
    with ws.vault() as v:
        [abandoned] = [json.loads(e.details_json) for e in v.ledger.events_of(result.outcome.ceremony_id)
                       if e.action == "reshare.abandoned"]
        assert abandoned["token_pins_restored"] is True
    assert not list((ws.root / "new-shares").glob("*.share"))  # void share files removed by the abort
    with pytest.raises(ve.PinIncorrect):
        ws.token_keys("new-shares-copy")  # the new PIN was taken back
    assert_old_state(ws, keys, backups)


def test_power_loss_after_the_re_key_is_settled_by_the_next_quorum(before_reshare: Workspace):
    """Token re-keyed, database not switched. The old shares are tried first and refused by the token
    (it names the new set); then the new shares complete the switch and the ceremony goes on."""
    ws = before_reshare
    keys = ws.token_keys("shares")

    def hook(point, step):
        if point == "pins-rekeyed":
            raise PowerLoss()

    with pytest.raises(PowerLoss):
        ws.run("reshare", hook=hook)
    assert state(ws)["active"] == "3-of-5" and state(ws)["marker"]  # the database did not switch
    assert ws.token_keys("new-shares") == keys  # but the token did
    with ws.vault() as v:
        [u] = unfinished(v)
        assert not u.resumable and "it may already have the new set's PINs" in u.why_not
        undone = abort_unfinished(v, u.ceremony_id, "power cut during the switch")
        # the new shares may be the only way into the token now: the abort never removes them; the
        # new bundle it never recorded goes (no restore accepts it, and it would block a rerun)
        assert undone[1:] == ["kept the new share files: the reshare's switch is not settled yet (the next quorum decides)"]
        assert undone[0].startswith("removed the bundle ") and "after-reshare.ccb that the interrupted step" in undone[0]
        assert not (ws.root / "media" / "after-reshare.ccb").exists()
        new_set = [s for s in v.store.list_share_sets() if s.status.value == "pending"][0]
    script = ws.variant("backup", answers={"quorum.share": OLD + NEW, "backup.path": "media/after-recovery.ccb"})
    events = []
    result = ws.run("backup", script, on_event=events.append)
    assert result.ok, result.one_line()
    rejected = [e for e in events if type(e).__name__ == "AnswerRejected"]
    assert [e.code for e in rejected] == ["HSM_PIN"]
    assert f"Enter the shares of share set {new_set.name!r} instead." in rejected[0].message
    st = state(ws)
    assert st["active"] == "2-of-3" and st["marker"] == "" and list(st["sets"].values()) == ["retired", "active"]
    assert ws.token_keys("new-shares") == keys
    with ws.vault() as v:
        completed = [json.loads(e.details_json) for e in v.ledger.events_of(result.outcome.ceremony_id)
                     if e.action == "quorum.reshared"]
        assert completed[0]["completed_after_interruption"] is True
        assert v.store.latest_backup().share_set_id == new_set.id  # the backup that followed is under the new KEK
        assert v.ledger.verify().ok


def test_power_loss_before_the_re_key_is_settled_back_to_the_old_state(before_reshare: Workspace):
    ws = before_reshare
    keys, backups = ws.token_keys("shares"), state(ws)["backups"]

    def hook(point, step):
        if point == "bundle-written":
            raise PowerLoss()

    with pytest.raises(PowerLoss):
        ws.run("reshare", hook=hook)
    with ws.vault() as v:
        [u] = unfinished(v)
        abort_unfinished(v, u.ceremony_id, "power cut before the switch")
    (ws.root / "media" / "after-reshare.ccb").unlink(missing_ok=True)  # the unrecorded bundle is shredded
    result = ws.run_ok("backup", ws.variant("backup", answers={"backup.path": "media/after-recovery.ccb"}))
    with ws.vault() as v:
        assert "reshare.abandoned" in [e.action for e in v.ledger.events_of(result.outcome.ceremony_id)]
    assert ws.token_keys("shares") == keys
    st = state(ws)
    assert st["active"] == "3-of-5" and st["marker"] == "" and st["backups"] == backups + 1
    # the abandoned set's share files open nothing: the settling quorum removed them
    assert not list((ws.root / "new-shares").glob("*.share"))
    with ws.vault() as v:
        assert "shares.void_removed" in [e.action for e in v.ledger.events_of(result.outcome.ceremony_id)]
