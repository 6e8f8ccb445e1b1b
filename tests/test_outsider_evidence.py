"""An outsider recomputes the evidence from docs/evidence.md alone.

Nothing of the console is imported here: a separate process runs a small ceremony (two people
enrolled, a witnessed step with a deviation, a dissent) and exports the evidence package; this
test then re-implements, from the document's rules and the tables it reads out of the document,
the canonical JSON, every ledger event hash and link, the worked example, ``journal_sha256``,
``transcript_sha256``, the outcome, every statement's change/deviation/dissent lines, every
Ed25519 signature (with ``cryptography`` and with openssl) and every fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from support.smoke import DEFINITION as SMOKE_DEFINITION  # plain TOML text, nothing of the console

DOC = Path(__file__).resolve().parents[1] / "docs" / "evidence.md"

BUILDER = r'''
import sys
from pathlib import Path
from vault.ceremony.script import run_script
from vault.vault import Vault
from console.cli import main
root = Path(sys.argv[1])
home = root / "home"
Vault.open(home).close()
(home / "ceremonies").mkdir()
(home / "ceremonies" / "smoke.toml").write_text(Path(sys.argv[2]).read_text())
(root / "s.toml").write_text(Path(sys.argv[3]).read_text())
v = Vault.open(home)
try:
    assert run_script(v, root / "s.toml", kdf_profile="fast-for-tests").ok
finally:
    v.close()
sys.exit(main(["--home", str(home), "evidence", "export", str(root / "package")]))
'''

SCRIPT = '''format = 1
ceremony = "smoke"
[defaults]
checklists = "confirm"
witness = "confirm"
attest = "agree"
[passphrases]
"Zoë" = "env:PP"
wendy = "env:PP"
[answers]
"admin.name" = "Zoë"
"witness.name" = "wendy"
"room.witness" = { deviation = { expected = "door closed", happened = "door open", action = "closed it", decided_by = "wendy" } }
"attest.attest:Zoë" = [{ agree = false, comment = "the door\\nwas open" }]
'''


# --- the rules, from the document ----------------------------------------------------------------
def canonical(value) -> bytes:
    """Section 1, written out by hand (not json.dumps)."""
    if value is None:
        return b"null"
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, str):
        out = ['"']
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        for ch in value:
            if ch in short:
                out.append(short[ch])
            elif ord(ch) < 0x20:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out).encode("utf-8")
    if isinstance(value, list):
        return b"[" + b",".join(canonical(v) for v in value) + b"]"
    if isinstance(value, dict):
        return b"{" + b",".join(canonical(k) + b":" + canonical(value[k]) for k in sorted(value)) + b"}"
    raise TypeError(type(value))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def doc_table(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    return re.search(rf"<!-- outsider:{name} -->\n```text\n(.*?)```", text, re.S).group(1)


BOOKKEEPING = set(doc_table("bookkeeping").split())
PHRASES = dict(line.split(" -> ") for line in doc_table("phrases").strip().splitlines())
SALIENT = doc_table("salient").split()


def one_line(value) -> str:
    if isinstance(value, list):
        value = ", ".join(one_line(v) for v in value)
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, dict):
        value = canonical(value).decode()
    text = value if isinstance(value, str) else json.dumps(value)
    return re.sub(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", text).strip()


def expected_lines(events, ceremony_id, signer):
    changes, deviations, dissents, closed = [], [], [], False
    for e in events:
        if e["ceremony_id"] != ceremony_id:
            continue
        a, d = e["action"], e["details"]
        if a == "ceremony.closing":
            closed = True
        elif a == "ceremony.attested":
            if d["participant"] == signer:
                break
            if d["agree"] is False:
                dissents.append(f"{one_line(d['participant'])} does not agree"
                                + (f": {one_line(d['comment'])}" if one_line(d["comment"]) else ""))
        elif closed:
            continue
        elif a == "ceremony.deviation":
            deviations.append(f"step {one_line(d['step'])}: expected {one_line(d['expected'])}; happened "
                              f"{one_line(d['happened'])}; action {one_line(d['action'])}; decided by "
                              f"{one_line(d['decided_by'])}")
        elif a not in BOOKKEEPING:
            parts = [f"{k} {one_line(d[k])}" for k in SALIENT if k in d and d[k] not in (None, "", [])]
            changes.append(PHRASES.get(a, a) + (": " + "; ".join(parts) if parts else ""))
    return changes or ["none"], deviations or ["none"], dissents or ["none"]


# --- the test ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("outsider")
    (root / "def.toml").write_text(SMOKE_DEFINITION)
    (root / "script.toml").write_text(SCRIPT)
    env = {"PP": "outsider-passphrase", "PATH": "/usr/bin:/bin", "HOME": str(root)}
    subprocess.run([sys.executable, "-c", BUILDER, str(root), str(root / "def.toml"), str(root / "script.toml")],
                   check=True, env=env, capture_output=True, cwd=str(root))
    return root / "package"


def test_the_worked_example_of_the_document():
    text = DOC.read_text(encoding="utf-8")
    body = re.search(r"Worked example.*?```text\n(.*?)\n```", text, re.S).group(1)
    stated = re.search(r"its hash is\n`([0-9a-f]{64})`", text).group(1)
    event = json.loads(body)
    assert canonical(event) == body.encode("utf-8")
    assert sha(canonical(event)) == stated


def test_an_outsider_recomputes_the_ledger_and_the_transcripts(package):
    # the ledger: every hash from its fields, every link
    events, prev = [], "0" * 64
    for n, line in enumerate((package / "ledger.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        e = json.loads(row["body"])
        assert list(e) == ["action", "actor", "at", "ceremony_id", "details", "prev_hash", "seq"]
        assert canonical(e) == row["body"].encode("utf-8")
        assert sha(canonical(e)) == row["hash"] and e["prev_hash"] == prev and e["seq"] == n
        events.append(e)
        prev = row["hash"]
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["ledger_head"]["hash"] == prev

    [path] = (package / "transcripts").glob("smoke-*.json")
    t = json.loads(path.read_text(encoding="utf-8"))
    c = t["ceremony"]
    identity = {k: c[k] for k in ("id", "name", "definition_sha256", "mode", "script_driven")}
    mine = [e for e in events if e["ceremony_id"] == c["id"]]
    closing = next(e for e in mine if e["action"] == "ceremony.closing")
    final = mine[-1]

    # journal_sha256 and transcript_sha256
    before = [s for s in t["steps"] if s["index"] < closing["details"]["attest_step"]]
    ids = {s["id"] for s in before}
    signed_for = t["participants"][:len(closing["details"]["participants"])]
    assert [p["name"] for p in signed_for] == closing["details"]["participants"]
    journal = {"ceremony": identity, "steps": before, "deviations": [d for d in t["deviations"] if d["step"] in ids],
               "participants": signed_for}
    assert sha(canonical(journal)) == closing["details"]["journal_sha256"]
    whole = {"ceremony": identity, "steps": t["steps"], "deviations": t["deviations"],
             "participants": t["participants"], "attestations": t["attestations"]}
    assert final["action"] == "ceremony.completed" and sha(canonical(whole)) == final["details"]["transcript_sha256"]
    assert final["details"]["outcome"] == "completed with dissent" and final["details"]["dissents"] == ["Zoë"]

    # statements and signatures
    keys = {p["name"]: p["public_key_pem"] for p in t["participants"]}
    closing_hash = next(json.loads(line)["hash"] for line in (package / "ledger.jsonl").read_text().splitlines()
                        if json.loads(line)["seq"] == closing["seq"])
    for a in t["attestations"]:
        lines = a["statement"].split("\n")
        assert lines[-1] == "" and lines[0] == "custodian-console attestation v2"
        fields = [line.split(": ", 1) for line in lines[1:-1]]
        head = dict(fields[:7])
        assert head["ceremony-id"] == c["id"] and head["ledger-head"] == closing_hash
        assert head["decision"] == ("agree" if a["agree"] else "do-not-agree")
        change, deviation, dissent = expected_lines(events, c["id"], a["participant"])
        assert fields[7:] == ([["change", x] for x in change] + [["deviation", x] for x in deviation]
                              + [["dissent", x] for x in dissent])
        key = serialization.load_pem_public_key(keys[a["participant"]].encode())
        key.verify(bytes.fromhex(a["signature_hex"]), a["statement"].encode("utf-8"))  # raises if bad
    wendy = next(a for a in t["attestations"] if a["participant"] == "wendy")
    assert "dissent: Zoë does not agree: the door was open\n" in wendy["statement"]

    # fingerprints
    for p in json.loads((package / "keys" / "custodians.json").read_text()):
        der = serialization.load_pem_public_key(p["public_key_pem"].encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert p["fingerprint"] == "sha256:" + sha(der)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_a_signature_as_the_document_shows(package, tmp_path):
    [path] = (package / "transcripts").glob("smoke-*.json")
    t = json.loads(path.read_text(encoding="utf-8"))
    a = t["attestations"][0]
    (tmp_path / "statement.txt").write_bytes(a["statement"].encode("utf-8"))
    (tmp_path / "statement.sig").write_bytes(bytes.fromhex(a["signature_hex"]))
    key = next(p for p in t["participants"] if p["name"] == a["participant"])
    (tmp_path / "key.pem").write_text(key["public_key_pem"])
    ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in",
                         "statement.txt", "-sigfile", "statement.sig"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    (tmp_path / "statement.txt").write_bytes(a["statement"].replace("decision: ", "decision:  ").encode())
    bad = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in",
                          "statement.txt", "-sigfile", "statement.sig"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode != 0
