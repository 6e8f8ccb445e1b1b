"""The full lifecycle from scripts, on real SoftHSM tokens and a real SQLite file:

init 3-of-5 → generate AES-256, EC P-384 and RSA-3072 → backup → restore onto a second, fresh
token → drill → rotate → reshare to 2-of-3 → destroy; every fingerprint compared where it must
match. Then, on what the lifecycle left behind: break glass (a key recovered from a real bundle
with nothing but shamir-mnemonic, HKDF and RFC 5649, following docs/backup-format.md), the secret
scan, and the transcripts (`custodian transcript ID --format md|json`, `transcript verify`, and
a change to any field of a transcript fails verification).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from console.cli import main as custodian
from support.ceremony_workspace import PEOPLE, Workspace, passphrase
from support.secret_scan import scan, scanned_files, secret_needles, share_needles, text_needles
from vault import errors as ve

OLD = [{"share": f"file:shares/{n}.share"} for n in ("alice", "bob", "carol")]
NEW = [{"share": f"file:new-shares/{n}.share"} for n in ("alice", "bob")]
KEYS = (("root-aes", "aes-256"), ("root-ec384", "ec-p384"), ("root-rsa3072", "rsa-3072"))
DEVIATION = {"deviation": {"expected": "the label read aloud twice", "happened": "read once",
                           "action": "read again before the witness signed", "decided_by": "wendy"}}


def db_keys(ws: Workspace) -> dict[str, object]:
    with ws.vault() as v:
        return {k.label: k for k in v.store.list_keys()}


def triples(records) -> tuple:
    return tuple(sorted((k.label, k.cka_id, k.fingerprint) for k in records))


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory):
    """Runs the lifecycle once for every test of this module (the RSA-3072 key is generated once)."""
    mp = pytest.MonkeyPatch()
    try:
        ws = Workspace(tmp_path_factory.mktemp("lifecycle") / "ws", mp)
        yield run_lifecycle(ws)
    finally:
        mp.undo()


def run_lifecycle(ws: Workspace) -> dict:
    ids: dict[str, str] = {}
    ids["init"] = ws.run_ok("init").outcome.ceremony_id
    initial_serial = ws.token_serial()

    for label, algorithm in KEYS:
        script = ws.variant("generate-key", answers={"generate.label": label, "generate.algorithm": algorithm,
                                                     "backup.path": f"media/generated-{label}.ccb"})
        ids[f"generate {label}"] = ws.run_ok("generate-key", script).outcome.ceremony_id
    generated = db_keys(ws)
    assert ws.token_keys() == triples(generated.values())  # the token holds exactly what was recorded

    ids["backup"] = ws.run_ok("backup").outcome.ceremony_id  # media/backup-1.ccb

    lost = ws.lose_token()
    restore = ws.variant("restore", answers={"quorum.share": OLD, "verify.bundle": "media/backup-1.ccb"})
    ids["restore"] = ws.run_ok("restore", restore).outcome.ceremony_id
    restored_serial = ws.token_serial()

    ids["drill"] = ws.run_ok("drill").outcome.ceremony_id  # the latest backup: backup-1

    rotate = ws.variant("rotate", answers={"rotate.key": "root-ec384", "backup.path": "media/after-rotate.ccb"})
    ids["rotate"] = ws.run_ok("rotate", rotate).outcome.ceremony_id
    rotated = db_keys(ws)

    reshare = ws.variant("reshare", verify="full")
    ids["reshare"] = ws.run_ok("reshare", reshare).outcome.ceremony_id
    retired_try = ws.run("backup", ws.variant("backup", answers={"backup.path": "media/never.ccb",
                                                                 "quorum.share": OLD[:1]}))

    destroy = ws.variant("destroy", answers={"quorum.share": NEW, "destroy.key": "root-ec384",
                                             "destroy.confirm-label": "root-ec384", "destroy.witness": DEVIATION})
    ids["destroy"] = ws.run_ok("destroy", destroy).outcome.ceremony_id
    return {"ws": ws, "ids": ids, "generated": generated, "rotated": rotated, "lost": lost,
            "initial_serial": initial_serial, "restored_serial": restored_serial, "retired_try": retired_try}


# --- the lifecycle ----------------------------------------------------------------------------------------
def test_every_fingerprint_matches_where_it_must(lifecycle):
    ws, generated, rotated = lifecycle["ws"], lifecycle["generated"], lifecycle["rotated"]
    assert [(k.label, k.algorithm.value) for k in generated.values()] == [(lbl, alg) for lbl, alg in KEYS]

    # restored = original: a new token, the same keys (CKA_ID and fingerprint)
    assert lifecycle["restored_serial"] != lifecycle["initial_serial"]
    assert lifecycle["lost"].name == lifecycle["initial_serial"]
    with ws.vault() as v:
        restored = [json.loads(e.details_json) for e in v.ledger.events_of(lifecycle["ids"]["restore"])
                    if e.action == "backup.restored"]
        assert restored[0]["keys_restored"] == 3 and restored[0]["token_serial"] == lifecycle["restored_serial"]

        # drill compared every key of the bundle
        [drill] = v.store.list_drills()
        assert drill.result.value == "ok" and drill.keys_compared == 3

        # rotation: a new version with another fingerprint, lineage recorded, the old one kept deactivated
        old, new = rotated["root-ec384"], rotated["root-ec384-v2"]
        assert (old.state.value, new.state.value, new.version) == ("deactivated", "active", 2)
        assert new.fingerprint != old.fingerprint and new.lineage == old.lineage and new.previous_key_id == old.id
        assert {k: rotated[k].fingerprint for k in generated} == {k: g.fingerprint for k, g in generated.items()}

        # reshare: the old shares are rejected as retired, with the date; the new ones work
        [retired] = [s for s in v.store.list_share_sets() if s.status.value == "retired"]
        assert v.store.active_share_set().describe() == "2-of-3"
        result = lifecycle["retired_try"]
        assert not result.ok and result.failure.code == "SHARE_RETIRED"
        assert f"retired on {retired.retired_at}" in result.failure.message
        with pytest.raises(ve.PinIncorrect):
            ws.token_keys("shares", vault=v)

        # destroy: gone from the token, the tombstone kept, with every backup that still holds it
        keys = {k.label: k for k in v.store.list_keys()}
        assert keys["root-ec384"].state.value == "destroyed"
        assert keys["root-ec384"].fingerprint == generated["root-ec384"].fingerprint
        on_token = ws.token_keys("new-shares", vault=v)
        assert on_token == triples(k for k in keys.values() if k.label != "root-ec384")
        holding = [b.path for b in v.store.backups_holding(keys["root-ec384"].id)]
        assert [p.rsplit("/", 1)[1] for p in holding] == [
            "generated-root-ec384.ccb", "generated-root-rsa3072.ccb", "backup-1.ccb", "after-rotate.ccb",
            "after-reshare.ccb"]
        assert v.ledger.verify().ok
    assert custodian(["--home", str(ws.home), "ledger", "verify"]) == 0


# --- break glass -------------------------------------------------------------------------------------------
def test_break_glass_recovers_keys_from_a_real_bundle_with_standard_tools_only(lifecycle):
    """docs/backup-format.md section 6, step by step, with shamir_mnemonic, cryptography and hashlib only."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
    import hmac

    from shamir_mnemonic import combine_mnemonics

    ws, generated = lifecycle["ws"], lifecycle["generated"]

    def hkdf(qs: bytes, label: str) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(qs)

    def kcv(key: bytes) -> str:
        enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return (enc.update(bytes(16)) + enc.finalize())[:3].hex()

    for bundle, share_dir, names in (("backup-1.ccb", "shares", ("carol", "dave", "erin")),
                                     ("after-reshare.ccb", "new-shares", ("bob", "dave"))):
        mnemonics = [(ws.root / share_dir / f"{n}.share").read_text().strip() for n in names]
        qs = combine_mnemonics(mnemonics)  # 1. the quorum secret, from any quorum of the set
        kek = hkdf(qs, "custodian-console/v1/backup-kek")  # 2. the documented labels
        mac_key = hkdf(qs, "custodian-console/v1/bundle-mac-key")
        data = (ws.root / "media" / bundle).read_bytes()
        lines = data.split(b"\n")[:-1]
        header, trailer = json.loads(lines[0]), json.loads(lines[-1])
        entries = [json.loads(x) for x in lines[1: 1 + header["key_count"]]]  # format 2: the metadata follows
        assert kcv(kek) == header["kek_check_value"]  # 3.
        signed = data[: len(data) - len(lines[-1]) - 1]
        assert hmac.compare_digest(hmac.new(mac_key, signed, hashlib.sha256).hexdigest(), trailer["mac"])  # 4.
        recovered = {}
        for entry in entries:  # 5. and 6.
            plain = aes_key_unwrap_with_padding(kek, base64.b64decode(entry["wrapped"]))
            if entry["algorithm"] == "aes-256":
                assert "kcv:" + kcv(plain) == entry["fingerprint"]
            else:  # PKCS#8: trim SoftHSM 2.6.1's zero padding to the outer SEQUENCE's DER length
                if plain[1] & 0x80:
                    n = plain[1] & 0x7F
                    plain = plain[: 2 + n + int.from_bytes(plain[2: 2 + n], "big")]
                else:
                    plain = plain[: 2 + plain[1]]
                private = serialization.load_der_private_key(plain, password=None)
                spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo)
                assert "sha256:" + hashlib.sha256(spki).hexdigest() == entry["fingerprint"]
            recovered[entry["label"]] = entry["fingerprint"]
        # the fingerprints are those the vault recorded when the keys were generated in the HSM
        for label in ("root-aes", "root-rsa3072"):
            assert recovered[label] == generated[label].fingerprint
    assert set(recovered) == {"root-aes", "root-ec384", "root-rsa3072", "root-ec384-v2"}

    # and the worked Python of the format document gives the same keys
    from support.ceremony_workspace import REPO

    block = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "backup-format.md").read_text(), flags=re.S)[0]
    namespace: dict = {}
    exec(compile(block, "backup-format.md", "exec"), namespace)
    mnemonics = [(ws.root / "new-shares" / f"{n}.share").read_text().strip() for n in ("alice", "dave")]
    keys = namespace["recover"](str(ws.root / "media" / "after-reshare.ccb"), mnemonics)
    assert set(keys) == {"root-aes", "root-ec384", "root-rsa3072", "root-ec384-v2"}


# --- no secret anywhere ------------------------------------------------------------------------------------------
def _needles(ws: Workspace) -> list:
    from vault.secret import Secret
    from vault.shares import derive_backup_kek, derive_bundle_mac_key, derive_so_pin, derive_user_pin

    needles = []
    for directory in ("shares", "new-shares"):
        for owner, mnemonic in ws.shares(directory).items():
            needles += share_needles(f"{owner} ({directory})", mnemonic)
        qs = ws.quorum_secret(directory)
        needles += secret_needles(f"QS of {directory}", qs)
        for what, derive in (("user PIN", derive_user_pin), ("SO PIN", derive_so_pin)):
            with derive(Secret(qs)) as value:
                needles += text_needles(f"{what} of {directory}", value.reveal_text())
        for what, derive in (("KEK", derive_backup_kek), ("MAC key", derive_bundle_mac_key)):
            with derive(Secret(qs)) as value:
                needles += secret_needles(f"{what} of {directory}", value.reveal())
    for person in PEOPLE:
        needles += text_needles(f"passphrase of {person}", passphrase(person))
    return needles


def _export_transcripts(ws: Workspace, ids: dict[str, str], capsys) -> dict[str, str]:
    out = ws.root / "transcripts"
    out.mkdir(exist_ok=True)
    files = {}
    for cid in ids.values():
        for fmt in ("md", "json"):
            capsys.readouterr()
            assert custodian(["--home", str(ws.home), "transcript", cid, "--format", fmt]) == 0
            path = out / f"{cid}.{fmt}"
            path.write_text(capsys.readouterr().out)
            files[f"{cid}.{fmt}"] = str(path)
    return files


def _record_a_run(ws: Workspace):
    """An 'interactive' drill recorded into a replayable script (secrets as references), then replayed."""
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.recorder import RecordingResponder
    from vault.ceremony.runner import drive
    from vault.ceremony.script import ScriptResponder, load_script, script_options

    script = load_script(ws.variant("drill", answers={"quorum.share": NEW}))
    recorder = RecordingResponder(ScriptResponder(script), ceremony="drill")
    with ws.vault() as v:
        engine = Engine(v, find_definition("drill", ws.home), options=script_options(script, kdf_profile="fast-for-tests"))
        assert drive(engine, recorder).ok
    (ws.root / "recorded").mkdir()
    path = recorder.save(ws.root / "recorded" / "drill.toml")
    return path


def test_no_secret_in_the_home_bundles_transcripts_or_recorded_scripts(lifecycle, capsys, monkeypatch):
    ws = lifecycle["ws"]
    recorded = _record_a_run(ws)
    # the recorded script replays once its references are set (shares typed at entry -> SHARE_n)
    for i, name in enumerate(("alice", "bob"), start=1):
        monkeypatch.setenv(f"SHARE_{i}", ws.shares("new-shares")[name])
    assert ws.run("drill", recorded).ok
    _export_transcripts(ws, lifecycle["ids"], capsys)

    needles = _needles(ws)
    roots = [ws.home, ws.root / "media", ws.root / "transcripts", ws.root / "recorded"]
    exclude = [ws.root / "shares", ws.root / "new-shares"]  # written there on purpose
    files = scanned_files(roots, exclude=exclude)
    names = {p.name for p in files}
    assert {"custodian.db", "custodian.toml", "softhsm2.conf", "backup-1.ccb", "drill.toml"} <= names
    assert any(n.endswith(".md") for n in names) and any(n.endswith(".json") for n in names)
    assert any(p.suffix == ".object" for p in files)  # SoftHSM's token files are scanned too
    assert scan(roots, needles, exclude=exclude) == []
    # the scanner does find what it looks for (the share files it was told to skip)
    found = scan([ws.root / "shares"], needles)
    assert {f.path.name for f in found} == {f"{n}.share" for n in ("alice", "bob", "carol", "dave", "erin")}


# --- transcripts -------------------------------------------------------------------------------------------------
def test_transcripts_print_and_verify_and_any_tampering_fails(lifecycle, capsys, tmp_path):
    from vault.ceremony import transcript as T

    ws, ids = lifecycle["ws"], lifecycle["ids"]
    files = _export_transcripts(ws, ids, capsys)
    for name, path in files.items():
        if name.endswith(".json"):
            capsys.readouterr()
            assert custodian(["transcript", "verify", path]) == 0, name
            assert capsys.readouterr().out.startswith("transcript OK")
    md = open(files[f"{ids['destroy']}.md"]).read()
    assert md.startswith("# PRACTICE — ceremony transcript: destroy")
    assert "## Destruction record" in md and "after-reshare.ccb" in md and "backup-1.ccb" in md
    assert "expected: the label read aloud twice" in md

    t = json.loads(open(files[f"{ids['destroy']}.json"]).read())
    assert T.verify(t).ok and t["deviations"] and t["attestations"]

    def leaves(obj, path=()):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from leaves(v, path + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from leaves(v, path + (i,))
        else:
            yield path

    def tampered(path):
        copy = json.loads(json.dumps(t))
        *parents, last = path
        node = copy
        for p in parents:
            node = node[p]
        value = node[last]
        node[last] = (not value if isinstance(value, bool) else value + 1 if isinstance(value, int)
                      else "x" if value is None else value[:-1] + ("0" if value[-1:] != "0" else "1") if value
                      else "x")
        return copy

    paths = list(leaves(t))
    assert len(paths) > 150
    undetected = [p for p in paths if T.verify(tampered(p)).ok]
    assert undetected == []
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered(("steps", 3, "summary"))))
    assert custodian(["transcript", "verify", str(bad)]) == 1
