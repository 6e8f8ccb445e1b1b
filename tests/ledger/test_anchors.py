"""The anchored ledger: an attacker with file access (the product's triggers dropped) who cuts the
ledger's tail, rewrites it consistently from the middle (every later hash recomputed, so only a
signature can tell), or deletes a signed head is caught by ``ledger verify`` and by ``doctor``;
each ceremony's start records the previous ceremony's end head; ``--expected-head`` takes a
head read from paper (hex or PGP words); the incremental check starts at the last verified
checkpoint and still catches a cut below it.

Four quick ceremonies (no HSM: enroll two people, a witnessed checklist, two attestations) give
a ledger of signed heads; each test attacks its own copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from console.cli import main as custodian
from support.smoke import DEFINITION as SMOKE_DEFINITION
from vault import ledger_anchors
from vault.ceremony.script import run_script
from vault.ledger import event_hash, pgp_words
from vault.vault import Vault


def script(i: int) -> str:
    return (f'format = 1\nceremony = "smoke"\n[defaults]\nchecklists = "confirm"\nwitness = "confirm"\n'
            f'attest = "agree"\n[passphrases]\na{i} = "env:PP"\nw{i} = "env:PP"\n[answers]\n'
            f'"admin.name" = "a{i}"\n"witness.name" = "w{i}"\n')


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("anchors")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PP", "anchor-test-passphrase")
        home = root / "home"
        Vault.open(home).close()
        (home / "ceremonies").mkdir()
        (home / "ceremonies" / "smoke.toml").write_text(SMOKE_DEFINITION)
        for i in range(4):
            path = root / f"s{i}.toml"
            path.write_text(script(i))
            vault = Vault.open(home)
            try:
                assert run_script(vault, path, kdf_profile="fast-for-tests").ok
            finally:
                vault.close()
    return home


@pytest.fixture
def home(golden, tmp_path):
    copy = tmp_path / "home"
    shutil.copytree(golden, copy, symlinks=True)
    return copy


def attacker(home: Path) -> sqlite3.Connection:
    raw = sqlite3.connect(home / "custodian.db",
                          isolation_level=None)
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    return raw


def last_seq(raw) -> int:
    return raw.execute("SELECT max(seq) FROM ledger").fetchone()[0]


def check(home: Path, **kw):
    vault = Vault.open(home)
    try:
        return ledger_anchors.check(vault, **kw)
    finally:
        vault.close()


def cli(home: Path, *args: str) -> int:
    return custodian(["--home", str(home), *args])


def doctor_ledger(home: Path, capsys) -> dict:
    capsys.readouterr()
    cli(home, "doctor", "--json")
    return json.loads(capsys.readouterr().out)["ledger"]


def test_an_honest_ledger_verifies_and_ceremonies_chain(home, capsys):
    report = check(home)
    assert report.ok, report.problems
    assert report.signed == 8  # two attestations in each of four ceremonies
    vault = Vault.open(home)
    try:
        starts = [e for e in vault.ledger.events() if e.action == "ceremony.started"]
        ends = [e for e in vault.ledger.events() if e.action == "ceremony.completed"]
        assert "previous_end_head" not in starts[0].details
        for start, previous_end in zip(starts[1:], ends):
            assert start.details["previous_end_head"] == {"seq": previous_end.seq, "hash": previous_end.hash}
            assert start.details["previous_ceremony"] == previous_end.ceremony_id
        assert len(starts[0].details["package_sha256"]) == 64
    finally:
        vault.close()
    # what no signature covers is said: the last ceremony's attestation events and its end
    assert report.unproven and "no signature covers them" in report.unproven
    capsys.readouterr()
    assert cli(home, "ledger", "verify", "--full") == 0
    out = capsys.readouterr().out
    assert "8 signed heads" in out and "not covered by a signature" in out


@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_cut_tail_is_caught(home, cut, capsys):
    raw = attacker(home)
    n = last_seq(raw)
    raw.execute("DELETE FROM ledger WHERE seq > ?", (n - cut,))
    raw.close()
    report = check(home)
    assert not report.ok and report.chain.ok  # the chain itself is intact: only the anchors see it
    assert cli(home, "ledger", "verify") == 1
    assert "ANCHOR" in capsys.readouterr().err
    assert doctor_ledger(home, capsys)["ok"] is False


def test_a_consistent_rewrite_from_the_middle_is_caught_only_by_the_signatures(home, capsys):
    raw = attacker(home)
    n = last_seq(raw)
    rows = raw.execute("SELECT seq, body FROM ledger ORDER BY seq").fetchall()
    middle = n // 2
    prev = None
    new_hash: dict[int, str] = {}
    for seq, body in rows:
        e = json.loads(body)
        if seq == middle:
            e["details"]["forged"] = True
        end = e["details"].get("previous_end_head")
        if end and end["seq"] in new_hash:  # the forger keeps the chained starts consistent too
            end["hash"] = new_hash[end["seq"]]
        if seq >= middle:
            if prev is not None:
                e["prev_hash"] = prev
            details = json.dumps(e["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            digest = event_hash(seq, e["at"], e["actor"], e["ceremony_id"], e["action"], details, e["prev_hash"])
            text = json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            raw.execute("UPDATE ledger SET body = ?, hash = ? WHERE seq = ?", (text, digest, seq))
            prev = new_hash[seq] = digest
        else:
            prev = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (seq,)).fetchone()[0]
    # the forger also fixes what the ceremonies table says of the ends
    for cid, end in raw.execute("SELECT id, ledger_end_seq FROM ceremonies").fetchall():
        h = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (end,)).fetchone()[0]
        raw.execute("UPDATE ceremonies SET ledger_end_hash = ? WHERE id = ?", (h, cid))
    raw.close()
    vault = Vault.open(home)
    try:
        assert vault.ledger.verify().ok  # the plain chain is fooled
    finally:
        vault.close()
    report = check(home)
    assert not report.ok
    assert report.problems and all("the head it signs" in p for p in report.problems), report.problems
    assert cli(home, "ledger", "verify") == 1
    assert doctor_ledger(home, capsys)["ok"] is False


def test_a_deleted_signed_head_is_caught(home, capsys):
    raw = attacker(home)
    raw.execute("DELETE FROM attestations WHERE id = (SELECT min(id) + 2 FROM attestations)")
    raw.close()
    report = check(home)
    assert not report.ok and any("signature is gone" in p for p in report.problems), report.problems
    assert cli(home, "ledger", "verify") == 1
    assert doctor_ledger(home, capsys)["ok"] is False


def test_a_forged_signature_is_caught(home):
    raw = attacker(home)
    sid, sig = raw.execute("SELECT id, signature_hex FROM attestations ORDER BY id LIMIT 1").fetchone()
    raw.execute("UPDATE attestations SET signature_hex = ? WHERE id = ?", (sig[:-2] + ("00" if sig[-2:] != "00" else "01"), sid))
    raw.close()
    report = check(home)
    assert any("does not verify" in p for p in report.problems), report.problems


def test_expected_head_from_paper_in_hex_or_words(home, capsys):
    vault = Vault.open(home)
    head = vault.ledger.head()
    vault.close()
    assert cli(home, "ledger", "verify", "--expected-head", f"{head.seq}:{head.hash_hex}") == 0
    assert cli(home, "ledger", "verify", "--expected-head", f"{head.seq}:{pgp_words(head.hash_hex)}") == 0
    raw = attacker(home)
    raw.execute("DELETE FROM ledger WHERE seq = ?", (head.seq,))
    raw.close()
    capsys.readouterr()
    assert cli(home, "ledger", "verify", "--expected-head", f"{head.seq}:{head.hash_hex}") == 1
    assert "removed from the end" in capsys.readouterr().err
    assert cli(home, "ledger", "verify", "--expected-head", "nonsense") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Next:" in err and len(err.strip().splitlines()) == 1


def test_incremental_verification_starts_at_the_checkpoint_and_full_rechecks(home):
    full = check(home)
    assert full.ok and full.last_signed is not None
    quick = check(home, from_checkpoint=True)
    assert quick.ok and quick.start_seq == full.last_signed.seq + 1
    # an edit below the checkpoint is not re-hashed by the quick check, but --full finds it
    raw = attacker(home)
    body = raw.execute("SELECT body FROM ledger WHERE seq = 2").fetchone()[0]
    raw.execute("UPDATE ledger SET body = ? WHERE seq = 2", (body.replace('"smoke"', '"smoky"'),))
    raw.close()
    assert not check(home).ok
    # a cut below the checkpoint removes the checkpoint's own event: caught by the quick check too
    raw = attacker(home)
    raw.execute("DELETE FROM ledger WHERE seq >= ?", (full.last_signed.seq,))
    raw.close()
    quick = check(home, from_checkpoint=True)
    assert not quick.ok and any("checkpoint" in p for p in quick.problems)


PLAIN = '''format = 1
name = "plain"
title = "Plain"
purpose = "A checklist and nothing signed."
roles = []
quorum = "none"

[[step]]
id = "room"
kind = "checklist"
title = "Room"
[step.params]
items = ["door closed"]
'''


def test_a_rewritten_end_before_an_unsigned_ceremony_is_caught_only_by_its_recorded_previous_end(home):
    """The forger rewrites the last signed ceremony's end (after its closing, so no attestation
    covers it), recomputes every later hash and fixes the ceremonies table: the chain holds, every
    signature still names a head that is there. Only the next ceremony's ``previous_end_head``
    (that ceremony attested nothing) still names the end as it was."""
    (home / "ceremonies" / "plain.toml").write_text(PLAIN)
    path = home.parent / "plain-script.toml"
    path.write_text('format = 1\nceremony = "plain"\n[defaults]\nchecklists = "confirm"\n')
    vault = Vault.open(home)
    try:
        assert run_script(vault, path, kdf_profile="fast-for-tests").ok
    finally:
        vault.close()
    assert check(home).ok
    raw = attacker(home)
    end, = raw.execute("SELECT max(seq) FROM ledger WHERE body LIKE '{\"action\":\"ceremony.completed\",%' "
                       "AND json_extract(body, '$.ceremony_id') NOT LIKE 'plain-%'").fetchone()
    prev = None
    for seq, body in raw.execute("SELECT seq, body FROM ledger WHERE seq >= ? ORDER BY seq", (end,)).fetchall():
        e = json.loads(body)
        if seq == end:
            e["details"]["deviations"] = 0 if e["details"].get("deviations") else 1
        if prev is not None:
            e["prev_hash"] = prev
        details = json.dumps(e["details"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = event_hash(seq, e["at"], e["actor"], e["ceremony_id"], e["action"], details, e["prev_hash"])
        raw.execute("UPDATE ledger SET body = ?, hash = ? WHERE seq = ?",
                    (json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False), prev, seq))
    for cid, seq in raw.execute("SELECT id, ledger_end_seq FROM ceremonies").fetchall():
        h, = raw.execute("SELECT hash FROM ledger WHERE seq = ?", (seq,)).fetchone()
        raw.execute("UPDATE ceremonies SET ledger_end_hash = ? WHERE id = ?", (h, cid))
    raw.close()
    report = check(home)
    assert report.chain.ok
    assert len(report.problems) == 1 and "records the previous ceremony's end" in report.problems[0], report.problems


def summary(report) -> tuple:
    return (report.ok, report.chain, report.problems, report.signed, report.last_signed, report.unproven,
            report.start_seq)


@pytest.mark.parametrize("attack", ["none", "attestation event deleted", "signature deleted"])
def test_the_check_reads_the_same_in_batches_of_any_size(home, attack):
    """Batches of 1, 2 and 5 read most of these few dozen events in full ranges (vault.chain_pass's
    fast path, where the events the anchors need are noted); the default reads them row by row.
    Every anchor sees the same events either way."""
    raw = attacker(home)
    if attack == "attestation event deleted":  # the last ceremony's second attestation event (the tail)
        seq, = raw.execute("SELECT max(seq) FROM ledger WHERE body LIKE '{\"action\":\"ceremony.attested\",%'").fetchone()
        raw.execute("DELETE FROM ledger WHERE seq >= ?", (seq,))
    elif attack == "signature deleted":
        raw.execute("DELETE FROM attestations WHERE id = (SELECT min(id) + 2 FROM attestations)")
    raw.close()
    default = summary(check(home))
    assert default[0] is (attack == "none"), default
    for batch in (1, 2, 5):
        assert summary(check(home, batch_size=batch)) == default, batch


def test_attestation_events_cut_with_the_end_are_counted_against_the_signatures(home):
    """The forger cuts the last ceremony's events after its closing (its attestation events and its
    end) and makes the ceremonies table end it at the closing: the chain holds, the signed head is
    still there, no later ceremony records this end. Only the count of signed attestations against
    the attestation events the ledger records shows it."""
    raw = attacker(home)
    cid, = raw.execute("SELECT id FROM ceremonies ORDER BY ledger_end_seq DESC LIMIT 1").fetchone()
    closing, h = raw.execute("SELECT seq, hash FROM ledger WHERE body LIKE '{\"action\":\"ceremony.closing\",%' "
                             "ORDER BY seq DESC LIMIT 1").fetchone()
    raw.execute("DELETE FROM ledger WHERE seq > ?", (closing,))
    raw.execute("UPDATE ceremonies SET ledger_end_seq = ?, ledger_end_hash = ? WHERE id = ?", (closing, h, cid))
    raw.close()
    report = check(home)
    assert report.chain.ok
    assert report.problems == [f"{cid} has 2 signed attestations but the ledger records 0: events were removed."]


def test_a_head_signed_after_a_paper_head_that_differs_counts_for_nothing(home):
    """A head read from paper that the ledger no longer has at its seq: the chain is good only
    before it, so no signature of a head at or after that seq counts as a signed head."""
    vault = Vault.open(home)
    try:
        closings = [e for e in vault.ledger.events() if e.action == "ceremony.closing"]
    finally:
        vault.close()
    paper = ledger_anchors.LedgerHead(closings[1].seq, "ab" * 32)  # the second ceremony's closing, as misread
    report = check(home, expected_head=paper)
    assert not report.ok and report.chain.first_bad_seq == paper.seq
    assert report.last_signed.seq == closings[0].seq  # the first ceremony's closing: the last good head
    assert sum("is no longer in the ledger" in p for p in report.problems) == 6  # 3 ceremonies x 2 signers
