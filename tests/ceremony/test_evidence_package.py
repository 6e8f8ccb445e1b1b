"""The evidence package of a lifecycle (init, generate-key with a witness deviation and a dissent,
backup, root CA, intermediate from an openssl CSR, a CRL revoking a test intermediate) verifies
offline with the pinned keys from `custodians export-keys`, and fails on a single edited byte of a
transcript, a signature, a public key or a ledger line, even when the forger re-seals the manifest
(so only the deeper check catches it). `ceremony history` lists the ceremonies with their outcome."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest
from cryptography import x509

from console.cli import main as custodian
from support.ceremony_workspace import Workspace

DEVIATION = {"deviation": {"expected": "label read twice", "happened": "read once", "action": "read again",
                           "decided_by": "wendy"}}


def openssl(*args):
    return subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        ws = Workspace(tmp_path_factory.mktemp("evidence") / "ws", mp)
        ws.run_ok("init")
        ws.run_ok("generate-key", ws.variant("generate-key", answers={
            "generate.witness": DEVIATION,
            "attest.attest:carol": [{"agree": False, "comment": "the label was read only once"}]}))
        ws.run_ok("backup")
        ws.run_ok("root-ca")
        for name, cn in (("intermediate", "Practice Issuing CA 1"), ("test-ca", "Practice Test CA")):
            key = ws.root / "pki" / f"{name}.key"
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
            openssl("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", ws.root / "pki" / f"{name}.csr")
        ws.run_ok("intermediate")
        ws.run_ok("intermediate", ws.variant("intermediate", answers={"intermediate.csr": "pki/test-ca.csr",
                                                                      "intermediate.path": "media/test-ca.pem"}))
        serial = format(x509.load_pem_x509_certificate((ws.root / "media" / "test-ca.pem").read_bytes())
                        .serial_number, "x")
        ws.run_ok("crl", ws.variant("crl", answers={"crl.revoke": [f"{serial} key-compromise", ""]}))
        pins = ws.root / "pinned.json"
        assert custodian(["--home", str(ws.home), "custodians", "export-keys", str(pins)]) == 0
        package = ws.root / "evidence"
        assert custodian(["--home", str(ws.home), "evidence", "export", str(package)]) == 0
        yield ws, package, pins, serial
    finally:
        mp.undo()


def verify(package, pins, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = custodian(["evidence", "verify", str(package), "--pinned-keys", str(pins)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def test_the_package_verifies_offline_and_holds_everything(lifecycle, capsys):
    ws, package, pins, serial = lifecycle
    rc, text = verify(package, pins, capsys)
    assert rc == 0, text
    assert "evidence OK" in text and "3 certificates" in text
    store = json.loads((package / "certs" / "certificates.json").read_text())
    revoked = [c for c in store["certificates"] if c["revocation"]]
    assert [(c["serial"], c["revocation"]["reason"]) for c in revoked] == [(serial, "key-compromise")]
    assert [r["crl_number"] for r in store["crls"]] == [1]
    assert len(list((package / "transcripts").glob("*.json"))) == 7 == len(list((package / "transcripts").glob("*.md")))
    masters = json.loads((package / "keys" / "master-keys.json").read_text())
    assert all(k["public_key_pem"] for k in masters) and {k["label"] for k in masters} >= {"signer-2026"}
    assert json.loads(pins.read_text()) == json.loads((package / "keys" / "pinned-keys.json").read_text())
    # the ledger audit key and every end head it signed in the HSM (all seven ceremonies held a quorum)
    [audit] = json.loads((package / "keys" / "audit-keys.json").read_text())
    assert f"ledger audit key {audit['fingerprint']}" in json.loads(pins.read_text())
    assert len(json.loads((package / "head-signatures.json").read_text())) == 7 and "7 HSM-signed end heads" in text
    defs = json.loads((package / "definitions.json").read_text())
    assert all(hashlib.sha256((package / "definitions" / f"{n}.toml").read_bytes()).hexdigest() == d["sha256"]
               for n, d in defs["definitions"].items())
    # the dissent and the deviation are in the transcript and the ledger
    gen = next(p for p in (package / "transcripts").glob("generate-key-*.md"))
    md = gen.read_text()
    assert "completed with dissent, 1 deviation recorded" in md and "the label was read only once" in md
    lines = [json.loads(json.loads(line)["body"]) for line in (package / "ledger.jsonl").read_text().splitlines()]
    assert any(e["action"] == "ceremony.witnessed" and e["details"]["outcome"] == "deviation" for e in lines)
    assert any(e["action"] == "ceremony.completed" and e["details"].get("outcome") == "completed with dissent"
               for e in lines)

    # ceremony history
    capsys.readouterr()
    assert custodian(["--home", str(ws.home), "ceremony", "history", "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert [h["definition"] for h in history] == ["init", "generate-key", "backup", "root-ca", "intermediate",
                                                  "intermediate", "crl"]
    assert history[1]["outcome"] == "completed with dissent" and all(h["end_head"] for h in history)
    assert custodian(["--home", str(ws.home), "custodians", "list", "--json"]) == 0
    people = json.loads(capsys.readouterr().out)
    assert all(p["fingerprint"].startswith("sha256:") and len(p["words"].split()) == 32 for p in people)


def reseal(package):
    """The forger recomputes the manifest, so only the content checks remain."""
    manifest = json.loads((package / "manifest.json").read_text())
    for name in manifest["files"]:
        data = (package / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    (package / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def flip(path, find: str, offset: int = 0):
    """Change one character of the key, hash or signature at ``offset`` after ``find``. The keys
    are fresh in every run, so the character there may be base64's '+' or '/' (1 run in ~30):
    take the next letter or digit rather than fail on the draw."""
    text = path.read_text()
    at = text.index(find) + offset
    while not text[at].isalnum():
        at += 1
    ch = text[at]
    new = "0" if ch != "0" else "1"
    path.write_text(text[:at] + new + text[at + 1:])


EDITS = {
    "transcript step summary": lambda p: flip(next((p / "transcripts").glob("generate-key-*.json")), '"summary": "', 12),
    "transcript signature": lambda p: flip(next((p / "transcripts").glob("backup-*.json")), '"signature_hex": "', 20),
    "custodian public key": lambda p: flip(p / "keys" / "custodians.json", "MCowBQYDK2VwAyEA", 20),
    "master public key": lambda p: flip(p / "keys" / "master-keys.json", "-----BEGIN PUBLIC KEY-----\\n", 40),
    "ledger line": lambda p: flip(p / "ledger.jsonl", '"hash": "', 30),
    "ledger body": lambda p: flip(p / "ledger.jsonl", '\\"fingerprint\\":\\"sha256:', 30),
    "certificate": lambda p: flip(p / "certs" / "certificates.json", "-----BEGIN CERTIFICATE-----\\n", 80),
    "HSM head signature": lambda p: flip(p / "head-signatures.json", '"signature_hex": "', 20),
    "HSM-signed head": lambda p: flip(p / "head-signatures.json", '"hash": "', 10),
    "ledger audit key": lambda p: flip(p / "keys" / "audit-keys.json", "MCowBQYDK2VwAyEA", 20),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_one_edited_byte_fails_even_with_the_manifest_resealed(lifecycle, tmp_path, capsys, what):
    _, package, pins, _ = lifecycle
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    EDITS[what](copy)
    rc, text = verify(copy, pins, capsys)
    assert rc == 1 and "manifest" in text  # untouched manifest: the changed file is named
    reseal(copy)
    rc, text = verify(copy, pins, capsys)
    assert rc == 1 and "evidence FAILED" in text and "manifest" not in text, text


def _refingerprint(path, pick):
    """Give the entry ``pick`` chooses another fingerprint, with the PGP words that match it, in
    the file's own format: every check but the recompute from the public key is satisfied."""
    from vault.pgpwords import words_for

    entries = json.loads(path.read_text())
    entry = pick(entries)
    digest = hashlib.sha256(b"a key the forger prefers").hexdigest()
    entry["fingerprint"], entry["words"] = "sha256:" + digest, " ".join(words_for(bytes.fromhex(digest)))
    path.write_text(json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("file, pick, named", [
    ("custodians.json", lambda es: next(e for e in es if e["name"] == "bob"), "bob's fingerprint or words do not match"),
    ("master-keys.json", lambda es: next(e for e in es if e.get("public_key_pem")),
     "public key does not match its fingerprint"),
    ("audit-keys.json", lambda es: es[0], "fingerprint or words do not match its public key"),
])
def test_a_fingerprint_changed_with_its_words_is_caught_only_by_the_recompute(lifecycle, tmp_path, capsys, file,
                                                                              pick, named):
    _, package, pins, _ = lifecycle
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    _refingerprint(copy / "keys" / file, pick)
    reseal(copy)
    rc, text = verify(copy, pins, capsys)
    failed = [line for line in text.splitlines() if line.startswith("evidence FAILED")]
    assert rc == 1 and len(failed) >= 1 and all(named in line for line in failed), text


def test_a_transcript_with_every_key_replaced_and_re_signed_is_caught_only_by_the_pinned_keys(lifecycle, tmp_path,
                                                                                              capsys):
    """The forger replaces every participant's key in the last ceremony's transcript with keys of
    their own, recomputes its journal digest, closing head, every statement and signature, the
    final digest, the package ledger from there on and its head, leaves out the last HSM-signed
    head (the newest one can go without a trace, docs/evidence.md 6.1) and reseals the manifest.
    keys/custodians.json stays honest. Only the pinned-key compare in transcript verification is
    left to see it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from support.transcript_forge import reseal as reseal_transcript
    from vault.ceremony import transcript as T
    from vault.ledger import canonical_event
    from vault.pgpwords import words_for

    _, package, pins, _ = lifecycle
    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    path = next((copy / "transcripts").glob("crl-*.json"))
    t = json.loads(path.read_text())
    forger = {p["name"]: ed25519.Ed25519PrivateKey.generate() for p in t["participants"]}
    for p in t["participants"]:
        p["public_key_pem"] = forger[p["name"]].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def redo(e, **changes):
        d = json.loads(e["details"])
        d.update(changes)
        e["details"] = json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    closing = next(e for e in t["ledger"]["events"] if e["action"] == "ceremony.closing")
    d = json.loads(closing["details"])
    part = T._closing_part(T._identity_of(t["ceremony"]), t["steps"], t["deviations"],
                           t["participants"][:len(d["participants"])], d["attest_step"])
    redo(closing, journal_sha256=T._digest(part))
    reseal_transcript(t)
    old_head = [a["statement"].split("ledger-head: ")[1].split("\n")[0] for a in t["attestations"]][0]
    for a in t["attestations"]:
        a["statement"] = a["statement"].replace(old_head, closing["hash"])
        a["signature_hex"] = forger[a["participant"]].sign(a["statement"].encode()).hex()
    for e in t["ledger"]["events"]:
        if e["action"] == "ceremony.attested":
            redo(e, closing_head=closing["hash"])
    reseal_transcript(t)
    path.write_text(T.to_json(t))
    assert T.verify(t).ok  # on its own the forged transcript holds

    mine = {e["seq"]: e for e in t["ledger"]["events"]}
    lines, prev = [], None
    for line in (copy / "ledger.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["seq"] in mine:
            e = mine[row["seq"]]
            row["body"] = canonical_event(e["seq"], e["at"], e["actor"], e["ceremony_id"], e["action"], e["details"],
                                          e["prev_hash"])
        elif prev is not None and row["seq"] > min(mine):
            body = json.loads(row["body"])
            body["prev_hash"] = prev
            row["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        row["hash"] = prev = hashlib.sha256(row["body"].encode()).hexdigest()
        lines.append(json.dumps(row, ensure_ascii=False))
    (copy / "ledger.jsonl").write_text("\n".join(lines) + "\n")
    sigs = json.loads((copy / "head-signatures.json").read_text())
    (copy / "head-signatures.json").write_text(json.dumps(sigs[:-1], indent=2, sort_keys=True) + "\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["ledger_head"] = {"seq": len(lines), "hash": prev, "words": " ".join(words_for(bytes.fromhex(prev)))}
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    reseal(copy)

    rc, text = verify(copy, pins, capsys)
    failed = [line for line in text.splitlines() if line.startswith("evidence FAILED")]
    assert rc == 1 and failed and all("embedded key differs from the pinned key" in line for line in failed), text
    assert len(failed) == len(t["attestations"])
