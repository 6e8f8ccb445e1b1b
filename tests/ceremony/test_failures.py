"""Failure scripts: each stops with its exact one-line message naming the step, and changes nothing.

"Nothing" is checked on a snapshot taken before the run: every database table of the vault's
state (keys, share sets and holders, policies, custodians, backups, drills, settings, key
history), the token's objects (listed by logging in with the PIN derived from the share files),
every file in the workspace (bundles, shares, signatures) and the ledger, which may only have
gained the failed ceremony's own bookkeeping (started, environment checked, quorum activated,
aborted) — the record an auditor needs of a ceremony that did not happen.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shamir_mnemonic import generate_mnemonics
from shamir_mnemonic.wordlist import WORDLIST

from support.ceremony_workspace import Workspace
from vault.ceremony.recovery import abort_unfinished, resume, unfinished
from vault.ceremony.runner import drive
from vault.ceremony.script import ScriptResponder, load_script, script_options
from vault.errors import ScriptInvalid


@pytest.fixture
def vault_with_key(ws: Workspace) -> Workspace:
    """init (3-of-5) and generate-key (signer-2026, with its backup)."""
    ws.replay("generate-key")
    return ws


def bad_share(ws: Workspace, name: str, text: str) -> str:
    (ws.root / "bad").mkdir(exist_ok=True)
    (ws.root / "bad" / f"{name}.share").write_text(text + "\n")
    return f"file:bad/{name}.share"


def shares_answer(*refs: str) -> list[dict]:
    return [{"share": r} for r in refs]


GOOD = ("file:shares/alice.share", "file:shares/bob.share", "file:shares/carol.share")


def run_backup_with(ws: Workspace, shares: list[dict], **answers):
    script = ws.variant("backup", answers={"quorum.share": shares, "backup.path": "media/not-written.ccb", **answers})
    return ws.run("backup", script)


def expect_failure(result, step: str, code: str, message: str) -> None:
    assert not result.ok
    cid = result.outcome.ceremony_id
    number = {"quorum": 3, "backup": 4, "generate": 4, "verify": 4}[step]
    assert result.one_line() == f"ceremony {cid} aborted at step {number} '{step}': {code}: {message}"


def refused(ref: str, answer: int, message: str) -> str:
    """A share the script gave, named by its reference and place (never its words), then why."""
    return f"The share {ref} (answer {answer} of 'quorum.share') was refused: {message}"


# --- shares at quorum entry ------------------------------------------------------------------------------
def test_wrong_word(vault_with_key: Workspace):
    ws = vault_with_key
    words = ws.shares()["alice"].split()
    words[9] = "qwerty"
    bad = bad_share(ws, "word", " ".join(words))
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(*GOOD[1:], bad))
    expect_failure(result, "quorum", "SHARE_WORD", refused(
                   bad, 3, "Word 10 'qwerty' is not a SLIP-39 word. Next: Check the word(s) against the share card and "
                   "type them again (the first four letters of a word are enough)."))
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_bad_checksum(vault_with_key: Workspace):
    ws = vault_with_key
    words = ws.shares()["alice"].split()
    words[-1] = next(w for w in WORDLIST if w != words[-1])
    bad = bad_share(ws, "checksum", " ".join(words))
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(*GOOD[1:], bad))
    ident = " ".join(words[:2])
    expect_failure(result, "quorum", "SHARE_CHECKSUM", refused(
                   bad, 3, f"The share starting '{ident}' fails its checksum: word 33 is wrong (the checksum and the "
                   "stored record of this share agree on it). Next: Compare word 33 with the card and type it again."))
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_foreign_share(vault_with_key: Workspace):
    ws = vault_with_key
    [foreign] = generate_mnemonics(1, [(1, 1)], os.urandom(32), extendable=True, iteration_exponent=0)[0][:1]
    bad = bad_share(ws, "foreign", foreign)
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(*GOOD[1:], bad))
    ident, expected = " ".join(foreign.split()[:2]), " ".join(ws.shares()["alice"].split()[:2])
    expect_failure(result, "quorum", "SHARE_FOREIGN", refused(
                   bad, 3, f"This share starts '{ident}' and belongs to a share set the console does not know; the "
                   f"shares this step needs start '{expected}'. Next: Ask the custodian for the share of the active "
                   "share set."))
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_duplicate_share(vault_with_key: Workspace):
    ws = vault_with_key
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(GOOD[0], GOOD[1], GOOD[0]))
    expect_failure(result, "quorum", "SHARE_DUPLICATE", refused(
                   GOOD[0], 3, "The share of alice (member 1 of group 1) was already entered (2 of 3 shares). "
                   "Next: Ask the next custodian for a different share."))
    ws.assert_unchanged(before, result.outcome.ceremony_id)


@pytest.mark.parametrize("where", ["first", "middle"])
def test_a_refused_share_in_the_middle_of_the_list_is_named_not_counted(vault_with_key: Workspace, where):
    """bob's share has a typo: the run fails with bob's reference and the word, not "2 of 3"."""
    ws = vault_with_key
    words = ws.shares()["bob"].split()
    words[4] = "qwerty"
    bad = bad_share(ws, "bob", " ".join(words))
    order = [bad, GOOD[0], GOOD[2]] if where == "first" else [GOOD[0], bad, GOOD[2]]
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(*order))
    n = order.index(bad) + 1
    expect_failure(result, "quorum", "SHARE_WORD", refused(
                   bad, n, "Word 5 'qwerty' is not a SLIP-39 word. Next: Check the word(s) against the share card "
                   "and type them again (the first four letters of a word are enough). (2 of 3 shares accepted; "
                   "the script has no more shares for 'quorum.share')."))
    assert "QUORUM_INCOMPLETE" not in result.one_line()
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_every_refused_share_is_named(vault_with_key: Workspace):
    ws = vault_with_key
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(GOOD[0], GOOD[0], GOOD[1], GOOD[1]))
    line = result.one_line()
    assert "SHARE_DUPLICATE: The share file:shares/alice.share (answer 2 of 'quorum.share') was refused: The share of " \
           "alice (member 1 of group 1) was already entered" in line
    assert "Also refused: SHARE_DUPLICATE: The share file:shares/bob.share (answer 4 of 'quorum.share') was refused: " \
           "The share of bob (member 2 of group 1) was already entered" in line
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_too_few_shares(vault_with_key: Workspace):
    ws = vault_with_key
    before = ws.snapshot()
    result = run_backup_with(ws, shares_answer(*GOOD[:2]))
    expect_failure(result, "quorum", "QUORUM_INCOMPLETE",
                   "Not enough shares: 2 of 3 shares entered, and the script has no more for 'quorum.share'. "
                   "Next: Add the missing custodians' shares.")
    actions = ws.assert_unchanged(before, result.outcome.ceremony_id)
    assert "quorum.activated" not in actions  # nothing was combined, nothing reached the HSM


def test_retired_share(ws: Workspace):
    ws.replay("reshare")
    with ws.vault() as v:
        [old] = [s for s in v.store.list_share_sets() if s.status.value == "retired"]
    before = ws.snapshot("new-shares")
    result = run_backup_with(ws, shares_answer(GOOD[0]))
    ident = " ".join(ws.shares()["alice"].split()[:2])
    expect_failure(result, "quorum", "SHARE_RETIRED", refused(
                   GOOD[0], 1, f"This share (alice's, member 1 of group 1, starting '{ident}') belongs to share set "
                   f"{old.name!r}, retired on {old.retired_at}. It opens nothing any more. "
                   "Next: This share opens nothing any more; ask for a share of the active set."))
    ws.assert_unchanged(before, result.outcome.ceremony_id, "new-shares")


def test_wrong_slip39_passphrase(ws: Workspace, monkeypatch):
    monkeypatch.setenv("SLIP39_PASSPHRASE", "practice-quorum-passphrase")
    monkeypatch.setenv("WRONG_SLIP39_PASSPHRASE", "practice-quorum-passphrasE")
    ws.run_ok("init", ws.variant("init", answers={"policy.passphrase": True,
                                                  "new-quorum.slip39-passphrase": {"secret": "env:SLIP39_PASSPHRASE"}}))
    ws.slip39_passphrase = b"practice-quorum-passphrase"
    with ws.vault() as v:
        assert v.store.active_share_set().passphrase
    before = ws.snapshot()
    wrong = ws.variant("generate-key", answers={
        "quorum.slip39-passphrase": {"secret": "env:WRONG_SLIP39_PASSPHRASE"}, "backup.path": "media/never.ccb"})
    result = ws.run("generate-key", wrong)
    expect_failure(result, "quorum", "QUORUM_CHECK",
                   "The recovered quorum secret does not match this share set's check value: the passphrase is "
                   "wrong, or the shares are a consistent set of another quorum. Next: Enter the passphrase again "
                   "carefully; nothing was sent to the HSM.")
    actions = ws.assert_unchanged(before, result.outcome.ceremony_id)
    assert "quorum.activated" not in actions
    # the same shares with the right passphrase open the vault
    right = ws.variant("generate-key", answers={"quorum.slip39-passphrase": {"secret": "env:SLIP39_PASSPHRASE"}})
    ws.run_ok("generate-key", right)
    assert [k[0] for k in ws.token_keys()] == ["signer-2026"]


# --- bundles ----------------------------------------------------------------------------------------------
def _corrupt(ws: Workspace, how: str) -> Path:
    source = ws.root / "media" / "after-generate-signer-2026.ccb"
    target = ws.root / "media" / f"{how}.ccb"
    data = bytearray(source.read_bytes())
    if how == "flipped":
        line2 = data.index(b"\n") + 1
        at = data.index(b'"wrapped":"', line2) + 20
        data[at] ^= 0x01  # one bit of the wrapped key, as a failing medium would
    else:
        data = data[: len(data) * 2 // 3]  # truncated: the copy stopped early
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize("how, problem", [
    ("flipped", "line 2 does not match its check value: the line was damaged or edited."),
    ("truncated", "truncated"),
])
def test_corrupted_bundle_is_refused_before_the_fresh_token_is_touched(vault_with_key: Workspace, how, problem):
    ws = vault_with_key
    bundle = _corrupt(ws, how)
    ws.lose_token()
    rows, files = ws.db_rows(), ws.files()
    script = ws.variant("restore", answers={"quorum.share": shares_answer(*GOOD), "verify.bundle": f"media/{bundle.name}"})
    result = ws.run("restore", script)
    assert not result.ok and result.failure is None
    assert result.outcome.step_id == "verify" and result.outcome.code == "BUNDLE_CORRUPT"
    assert problem in result.outcome.message
    assert ws.db_rows() == rows and ws.files() == files
    with ws.vault() as v:
        assert v.hsm().tokens() == []  # no token was initialised for a bundle that cannot be restored
        assert set(e.action for e in v.ledger.events_of(result.outcome.ceremony_id)) <= {
            "ceremony.started", "environment.checked", "quorum.activated", "ceremony.aborted"}


# --- keys and outputs ----------------------------------------------------------------------------------------
def run_unchecked(ws: Workspace, name: str, script_path):
    """The engine's own refusals, without the script check that now catches these first (the
    state can change between the check and the step, and interactive runs have no check)."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.script import ScriptRun

    with ws.vault() as vault:
        definition = find_definition(name, vault.home.path)
        script = load_script(script_path, definition)
        engine = Engine(vault, definition, options=script_options(script, kdf_profile="fast-for-tests"))
        responder = ScriptResponder(script)
        return ScriptRun(drive(engine, responder), responder.failure, ())


def test_existing_label(vault_with_key: Workspace):
    ws = vault_with_key
    before = ws.snapshot()
    script = ws.variant("generate-key", answers={"backup.path": "media/never.ccb"})  # label signer-2026 again
    with pytest.raises(ScriptInvalid, match="a key labelled 'signer-2026' already exists"):
        ws.run("generate-key", script)
    assert ws.snapshot() == before  # refused before the start: not even a ceremony is recorded
    result = run_unchecked(ws, "generate-key", script)
    expect_failure(result, "generate", "HSM_LABEL_EXISTS",
                   "The vault already has a key labelled 'signer-2026' (active). "
                   "Next: Choose a label that no key on the token or in the database uses.")
    ws.assert_unchanged(before, result.outcome.ceremony_id)


def test_output_file_that_already_exists(vault_with_key: Workspace):
    ws = vault_with_key
    existing = ws.root / "media" / "after-generate-signer-2026.ccb"
    before = ws.snapshot()
    with pytest.raises(ScriptInvalid, match=f"{existing} already exists"):
        run_backup_with(ws, shares_answer(*GOOD), **{"backup.path": f"media/{existing.name}"})
    assert ws.snapshot() == before
    script = ws.variant("backup", answers={"quorum.share": shares_answer(*GOOD), "backup.path": f"media/{existing.name}"})
    result = run_unchecked(ws, "backup", script)
    expect_failure(result, "backup", "OUTPUT_EXISTS",
                   f"{existing} already exists and was left unchanged. "
                   "Next: Choose a new path; the console never overwrites a file.")
    ws.assert_unchanged(before, result.outcome.ceremony_id)


# --- crashes ---------------------------------------------------------------------------------------------------
class PowerLoss(BaseException):
    """Raised from inside a step: the process dies there (nothing in the console catches it)."""


def crash_at(message_start: str):
    def on_event(event):
        if getattr(event, "message", "").startswith(message_start):
            raise PowerLoss(message_start)
    return on_event


def test_crash_mid_step_then_resume(vault_with_key: Workspace):
    """Power lost inside the backup step (quorum active, wrapping about to start); the next start
    offers to resume; the resumed run re-activates the quorum and completes with exactly one bundle."""
    ws = vault_with_key
    before = ws.snapshot()
    script = ws.variant("backup", answers={"backup.path": "media/resumed.ccb"})
    with pytest.raises(PowerLoss):
        ws.run("backup", script, on_event=crash_at("Wrapping keys"))
    with ws.vault() as v:
        [u] = unfinished(v)
        assert (u.name, u.step_id, u.resumable, u.why_not) == ("backup", "backup", True, None)
    assert ws.db_rows() == before.tables and ws.files() == before.files  # the crash left nothing half-done
    with ws.vault() as v:
        loaded = load_script(script)
        engine, _ = resume(v, u.ceremony_id, options=script_options(loaded, kdf_profile="fast-for-tests"))
        outcome = drive(engine, ScriptResponder(loaded))
        assert outcome.ok, outcome.one_line()
        assert [b.path for b in v.store.list_backups()][-1] == str(ws.root / "media" / "resumed.ccb")
        assert len(v.store.list_backups()) == 2
        steps = [(s.step_id, s.attempt, s.status.value, s.error_code) for s in v.store.steps_of(u.ceremony_id)]
        assert ("backup", 1, "failed", "INTERRUPTED") in steps and ("backup", 2, "completed", None) in steps
        assert v.ledger.verify().ok


def test_crash_mid_step_then_abort(vault_with_key: Workspace):
    """Power lost inside generate-key (after the preflight, before its intent): aborted with a
    reason; nothing was generated. (generate-key resumes by its recovery rule too: see
    tests/ceremony/test_crash_sweep.py.)"""
    ws = vault_with_key
    before = ws.snapshot()
    script = ws.variant("generate-key", answers={"generate.label": "never-made", "backup.path": "media/never.ccb"})
    with pytest.raises(PowerLoss):
        ws.run("generate-key", script, on_event=crash_at("Generating"))
    with ws.vault() as v:
        [u] = unfinished(v)
        assert (u.step_id, u.resumable, u.why_not) == ("generate", True, None)
        abort_unfinished(v, u.ceremony_id, "power cut during key generation; rerun the ceremony")
        c = v.store.get_ceremony(u.ceremony_id)
        assert c.status.value == "aborted" and c.abort_reason == (
            "INTERRUPTED: power cut during key generation; rerun the ceremony")
        assert unfinished(v) == []
    actions = ws.assert_unchanged(before, u.ceremony_id)
    assert actions[-1] == "ceremony.aborted"
