"""One evidence package: everything an auditor needs to check, offline, what happened.

``export(vault, directory)`` writes a new directory (never over an existing one; built beside it
and renamed into place, so it is complete or absent)::

    README.md                    how to verify, by hand and with `custodian evidence verify`
    manifest.json                every other file with its SHA-256 and size; the ledger's head
    ledger.jsonl                 one line per event: {"seq", "body", "hash"}, body = the hashed text
    transcripts/<id>.json|.md    every ceremony's transcript (vault.ceremony.transcript)
    keys/custodians.json         every enrolled person: name, role, status, public key PEM,
                                 fingerprint (sha256: of the SubjectPublicKeyInfo DER) and its PGP words
    keys/pinned-keys.json        the same keys as {name: PEM}: the pin file `transcript verify` reads
    keys/audit-keys.json         every ledger audit key (the HSM's signer of end heads), with
    head-signatures.json         every end head it signed (vault.evidence_audit)
    keys/master-keys.json        every master key: name, version, label, algorithm, state,
                                 fingerprint and words, and (asymmetric keys still on the token)
                                 the public key PEM read from the token
    definitions/<name>.toml      every ceremony definition the catalogue holds, byte for byte,
    definitions.json             with its SHA-256, and the SHA-256 every past ceremony recorded
    certs/certificates.json      the certificate store: certificates (DER as PEM, SHA-256, serial),
                                 revocations, CRLs (number, this/next update, DER as PEM)

``verify(directory, pinned=None)`` checks it with nothing but the files: the manifest's digests;
the ledger chain from the first event (each ``sha256(body) == hash``, each body's ``prev_hash``
and ``seq``); every transcript (vault.ceremony.transcript.verify, with the package's or the
given pinned keys) and that each of its events is, byte for byte, the package ledger's event of
that seq; every signed closing head still in the ledger; every key's fingerprint and words
recomputed from its PEM; every definition's SHA-256; every certificate's and CRL's SHA-256 and
its ``certificate.issued`` / ``crl.issued`` / ``certificate.revoked`` event in the ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vault.errors import OutputWriteFailed
from vault.pgpwords import words_for

FORMAT = "custodian-evidence/v1"
GENESIS = "0" * 64


def _words(hex_text: str) -> str:
    return " ".join(words_for(bytes.fromhex(hex_text.split(":", 1)[-1])))


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _pem(der: bytes, label: str) -> str:
    import base64

    b64 = base64.b64encode(der).decode()
    return f"-----BEGIN {label}-----\n" + "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64)) + \
        f"\n-----END {label}-----\n"


@dataclass(frozen=True)
class ExportResult:
    directory: Path
    files: int
    ceremonies: int
    events: int
    head_hex: str
    manifest_sha256: str


# --- export -----------------------------------------------------------------------------------------
def export(vault, directory: Path) -> ExportResult:
    from vault.ceremony import transcript as T
    from vault.ceremony.definitions import load_catalogue
    from vault.identity import public_key_fingerprint

    directory = Path(directory)
    if directory.exists() or directory.is_symlink():
        raise OutputWriteFailed(f"{directory} already exists; the evidence package is written to a new directory.",
                                next_step="Name a directory that does not exist yet.")
    if not directory.parent.is_dir():
        raise OutputWriteFailed(f"The folder {directory.parent} does not exist.",
                                next_step="Create it, or name a directory in an existing folder.")
    store = vault.store
    files: dict[str, bytes] = {}

    lines, head = [], GENESIS
    for seq, body, digest in store.ledger_bodies():
        lines.append(json.dumps({"seq": seq, "body": body.decode("utf-8"), "hash": digest}, ensure_ascii=False))
        head = digest
    files["ledger.jsonl"] = ("\n".join(lines) + ("\n" if lines else "")).encode()

    ceremonies = store.list_ceremonies()[::-1]  # oldest first
    for c in ceremonies:
        t = T.build(vault, c.id)
        files[f"transcripts/{c.id}.json"] = T.to_json(t).encode()
        files[f"transcripts/{c.id}.md"] = T.render_markdown(t).encode()

    people = []
    for p in store.list_custodians(status=None):
        fp = public_key_fingerprint(p.public_key_pem)
        people.append({"name": p.name, "role": p.role.value, "status": p.status.value,
                       "public_key_pem": p.public_key_pem, "fingerprint": fp, "words": _words(fp)})
    files["keys/custodians.json"] = _dump(people).encode()
    from vault import evidence_audit

    files["keys/pinned-keys.json"] = _dump({**{p["name"]: p["public_key_pem"] for p in people},
                                            **evidence_audit.pins(store)}).encode()
    files["keys/master-keys.json"] = _dump(_master_keys(vault)).encode()
    files.update(evidence_audit.export_files(store))

    recorded = {}
    for c in ceremonies:
        recorded.setdefault(c.definition_sha256, []).append(c.id)
    definitions = {}
    for name, d in sorted(load_catalogue(vault.home.path).items()):
        data = d.source.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        files[f"definitions/{name}.toml"] = data
        definitions[name] = {"sha256": sha, "words": _words(sha), "builtin": d.builtin}
    files["definitions.json"] = _dump({"definitions": definitions, "used_by_ceremonies": {
        sha: ids for sha, ids in sorted(recorded.items())}}).encode()

    files["certs/certificates.json"] = _dump(_certificate_store(store)).encode()
    files["README.md"] = README.encode()

    manifest = {"format": FORMAT, "ledger_head": {"seq": len(lines), "hash": head, "words": _words(head) if lines else ""},
                "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                          for name, data in sorted(files.items())}}
    manifest_bytes = _dump(manifest).encode()
    files["manifest.json"] = manifest_bytes
    _write_directory(directory, files)
    return ExportResult(directory, len(files), len(ceremonies), len(lines), head,
                        hashlib.sha256(manifest_bytes).hexdigest())


def _master_keys(vault) -> list[dict]:
    from cryptography.hazmat.primitives import serialization

    from vault.errors import VaultError
    from vault.operations.export import public_spki
    from vault.types import KeyAlgorithm

    out, session = [], None
    try:
        for k in vault.store.list_keys():
            entry = {"name": k.name, "version": k.version, "label": k.label, "algorithm": k.algorithm.value,
                     "purpose": k.purpose.value, "state": k.state.value, "fingerprint": k.fingerprint,
                     "words": _words(k.fingerprint), "public_key_pem": None}
            if k.algorithm is not KeyAlgorithm.AES_256 and k.destroyed_at is None and k.destroyed_compromised_at is None:
                try:
                    if session is None:
                        session = vault.hsm().open_public_session(vault.token)
                    der = public_spki(vault, k, session)
                    entry["public_key_pem"] = serialization.load_der_public_key(der).public_bytes(
                        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                except VaultError as exc:  # the token is absent: the record still goes in, said so
                    entry["public_key_unavailable"] = f"{exc.code}: {exc.message}"
            out.append(entry)
    finally:
        if session is not None:
            session.close()
    return out


def _certificate_store(store) -> dict:
    certs = []
    for c in store.list_certificates():
        rev = store.revocation_of(c.id)
        certs.append({"id": c.id, "serial": c.serial_hex, "kind": c.kind, "subject": c.subject, "issuer": c.issuer,
                      "not_before": c.not_before, "not_after": c.not_after, "profile": c.profile_name,
                      "profile_sha256": c.profile_sha256, "sha256": c.sha256, "ceremony_id": c.ceremony_id,
                      "pem": _pem(c.der, "CERTIFICATE"),
                      "revocation": None if rev is None else {"reason": rev.reason, "revoked_at": rev.revoked_at,
                                                              "ceremony_id": rev.ceremony_id}})
    crls = [{"issuer_certificate_id": r.issuer_certificate_id, "crl_number": r.crl_number,
             "this_update": r.this_update, "next_update": r.next_update, "revoked_count": r.revoked_count,
             "sha256": r.sha256, "ceremony_id": r.ceremony_id, "pem": _pem(r.der, "X509 CRL")}
            for r in store.list_crls()]
    return {"certificates": certs, "crls": crls}


def _write_directory(directory: Path, files: dict[str, bytes]) -> None:
    partial = directory.parent / f".{directory.name}.partial-{secrets.token_hex(4)}"
    try:
        partial.mkdir(mode=0o755)
        for name, data in files.items():
            path = partial / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        os.rename(partial, directory)  # fails if the directory appeared meanwhile: nothing overwritten
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise OutputWriteFailed(f"The evidence package could not be written to {directory} "
                                f"({exc.strerror or exc}).") from None


# --- verify -----------------------------------------------------------------------------------------
@dataclass
class EvidenceReport:
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    transcripts: int = 0
    attestations: int = 0
    keys: int = 0
    certificates: int = 0
    head_signatures: int = 0


def verify(directory: Path, pinned: dict[str, str] | None = None) -> EvidenceReport:
    """Check a package offline (module doc); every finding is a sentence in ``problems``."""
    rep = EvidenceReport()
    try:
        _verify(Path(directory), pinned, rep)
    except Exception as exc:  # untrusted files: any failure to read them is a finding, never a traceback
        rep.problems.append(f"the package is malformed or unreadable ({type(exc).__name__}: {exc})")
    rep.ok = not rep.problems
    return rep


def _verify(root: Path, pinned: dict[str, str] | None, rep: EvidenceReport) -> None:
    from vault.ceremony import transcript as T
    from vault.identity import public_key_fingerprint

    problems = rep.problems
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest.json is not a {FORMAT} manifest")
        return
    listed = manifest["files"]
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: not in the manifest (added after export)")
    for name, meta in sorted(listed.items()):
        path = root / name
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != meta["sha256"]:
            problems.append(f"{name}: its SHA-256 differs from the manifest (the file was changed)")

    # the ledger, from the first event
    events: dict[int, dict] = {}
    prev, expected = GENESIS, 1
    for n, line in enumerate((root / "ledger.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        body = row["body"]
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
        fields = json.loads(body)
        if row["seq"] != expected or fields.get("seq") != expected:
            problems.append(f"ledger.jsonl line {n}: event {row['seq']} where event {expected} belongs")
        if fields.get("prev_hash") != prev:
            problems.append(f"ledger.jsonl line {n}: event {row['seq']} does not follow the event before it")
        if digest != row["hash"]:
            problems.append(f"ledger.jsonl line {n}: event {row['seq']}'s hash does not match its body")
        events[row["seq"]] = {"body": body, "hash": row["hash"], **fields}
        prev, expected = row["hash"], expected + 1
    rep.events = len(events)
    head = manifest["ledger_head"]
    if (head["seq"], head["hash"]) != (len(events), prev if events else GENESIS):
        problems.append("the manifest's ledger head is not the last event of ledger.jsonl")

    # the keys
    people = json.loads((root / "keys" / "custodians.json").read_text(encoding="utf-8"))
    pins = json.loads((root / "keys" / "pinned-keys.json").read_text(encoding="utf-8"))
    for p in people:
        fp = public_key_fingerprint(p["public_key_pem"])
        if fp != p["fingerprint"] or _words(fp) != p["words"]:
            problems.append(f"keys/custodians.json: {p['name']}'s fingerprint or words do not match the key")
        if pins.get(p["name"]) != p["public_key_pem"]:
            problems.append(f"keys/pinned-keys.json: {p['name']}'s key differs from keys/custodians.json")
        rep.keys += 1
    for k in json.loads((root / "keys" / "master-keys.json").read_text(encoding="utf-8")):
        if _words(k["fingerprint"]) != k["words"]:
            problems.append(f"keys/master-keys.json: {k['label']}'s words do not match its fingerprint")
        if k.get("public_key_pem"):
            from cryptography.hazmat.primitives import serialization

            from cryptography.exceptions import UnsupportedAlgorithm

            try:
                der = serialization.load_pem_public_key(k["public_key_pem"].encode()).public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            except (ValueError, UnsupportedAlgorithm):
                der = b""  # not a public key any more: the fingerprint check below names it
            if "sha256:" + hashlib.sha256(der).hexdigest() != k["fingerprint"]:
                problems.append(f"keys/master-keys.json: {k['label']}'s public key does not match its fingerprint")
        rep.keys += 1
    keys_for_transcripts = pinned if pinned is not None else {p["name"]: p["public_key_pem"] for p in people}
    if pinned is not None:
        for p in people:
            if p["name"] in pinned and T._spki_der(pinned[p["name"]]) != T._spki_der(p["public_key_pem"]):
                problems.append(f"keys/custodians.json: {p['name']}'s key differs from the pinned key")

    # the ledger audit key and the end heads it signed (vault.evidence_audit)
    from vault import evidence_audit

    evidence_audit.verify(root, events, pinned, rep)

    # the transcripts, each bound to the package's ledger
    for path in sorted((root / "transcripts").glob("*.json")):
        t = json.loads(path.read_text(encoding="utf-8"))
        report = T.verify(t, keys_for_transcripts)
        for problem in report.problems:
            problems.append(f"transcripts/{path.name}: {problem}")
        for e in t["ledger"]["events"]:
            mine = events.get(e["seq"])
            if mine is None or mine["hash"] != e["hash"]:
                problems.append(f"transcripts/{path.name}: event {e['seq']} is not the ledger's event {e['seq']}")
                break
        rep.transcripts += 1
        rep.attestations += report.checked_attestations

    # definitions
    defs = json.loads((root / "definitions.json").read_text(encoding="utf-8"))
    known = set()
    for name, meta in defs["definitions"].items():
        sha = hashlib.sha256((root / "definitions" / f"{name}.toml").read_bytes()).hexdigest()
        if sha != meta["sha256"] or _words(sha) != meta["words"]:
            problems.append(f"definitions/{name}.toml: its SHA-256 differs from definitions.json")
        known.add(meta["sha256"])
    started = {e["ceremony_id"]: e["details"].get("definition_sha256") for e in events.values()
               if e.get("action") == "ceremony.started"}
    for cid, sha in sorted(started.items()):
        if sha not in known:
            rep.notes.append(f"{cid} ran a definition (SHA-256 {sha[:16]}…) the catalogue no longer holds")

    # the certificate store against the ledger
    store = json.loads((root / "certs" / "certificates.json").read_text(encoding="utf-8"))
    issued = {(e["details"].get("serial"), e["details"].get("sha256")) for e in events.values()
              if e.get("action") == "certificate.issued"}
    revoked = {(e["details"].get("serial"), e["details"].get("reason")) for e in events.values()
               if e.get("action") == "certificate.revoked"}
    crls = {(e["details"].get("crl_number"), e["details"].get("sha256")) for e in events.values()
            if e.get("action") == "crl.issued"}
    for c in store["certificates"]:
        der = _der_of(c["pem"])
        if hashlib.sha256(der).hexdigest() != c["sha256"]:
            problems.append(f"certs: certificate {c['serial']}'s SHA-256 does not match its PEM")
        if (c["serial"], c["sha256"]) not in issued:
            problems.append(f"certs: certificate {c['serial']} has no certificate.issued event in the ledger")
        if c["revocation"] and (c["serial"], c["revocation"]["reason"]) not in revoked:
            problems.append(f"certs: the revocation of {c['serial']} has no certificate.revoked event in the ledger")
        rep.certificates += 1
    for r in store["crls"]:
        if hashlib.sha256(_der_of(r["pem"])).hexdigest() != r["sha256"] or (r["crl_number"], r["sha256"]) not in crls:
            problems.append(f"certs: CRL number {r['crl_number']} does not match its PEM or its crl.issued event")


def _der_of(pem: str) -> bytes:
    import base64

    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body, validate=True)


README = """# Evidence package of a custodian console vault

Everything here can be checked offline, with this console (`custodian evidence verify DIR
[--pinned-keys FILE]`) or by hand, following docs/evidence.md of the console's source (it states
every hash, canonical form and signature exactly). In short:

1. `manifest.json` lists every other file with its SHA-256: `sha256sum FILE`.
2. `ledger.jsonl` holds one event a line. For each: `hash` = SHA-256 of `body` (UTF-8), and
   `body`'s `prev_hash` is the previous line's `hash` (64 zeros for event 1), `body`'s `seq` the
   line's number. The last hash is the ledger head (`manifest.json`, and in PGP words).
3. `transcripts/ID.json` are the ceremonies' transcripts. Each attestation's `statement` is the
   exact text its participant signed with Ed25519; the public keys are in `keys/custodians.json`
   (pin them from a copy you hold: `--pinned-keys`). Each signed statement names the ceremony's
   closing ledger head, which must be the hash of that ceremony's `ceremony.closing` event in
   `ledger.jsonl`; each transcript's events are byte for byte the ledger's events of the same
   seq. Verify one signature with openssl (docs/evidence.md shows the commands).
4. `keys/`: each fingerprint is `sha256:` + SHA-256 of the public key's SubjectPublicKeyInfo DER
   (`openssl pkey -pubin -in key.pem -outform DER | sha256sum`), with its PGP words.
5. `definitions/`: each ceremony definition with its SHA-256; every `ceremony.started` event
   records the SHA-256 of the definition it ran.
6. `certs/certificates.json`: the certificate store; each certificate's SHA-256 is over its DER,
   and each issuance, revocation and CRL has its event in the ledger.

7. `keys/audit-keys.json` and `head-signatures.json`: the ledger audit key lives in the HSM and
   signs every ceremony's end head that held a quorum. Each `statement` is the exact text it
   signed; it names the ceremony's final event (`ledger-head: SEQ:HASH`), which must be in
   `ledger.jsonl` with that hash, and the head it signed before (`previous-signed-head`).

What cannot be shown from these files alone: events after the last signed head (a ceremony that
ended without a quorum, and anything after) are covered by no signature, and the newest signed
head's signature can be left out without a trace here; compare the head with the one on the
paper of that ceremony.
"""
