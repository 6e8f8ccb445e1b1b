"""The ledger audit key in the evidence package (vault.evidence): its files and their checks.

``keys/audit-keys.json``   every ledger audit key: fingerprint and PGP words, algorithm, token
                           serial, when and in which ceremony it was made, public key PEM
``head-signatures.json``   every end head the audit key signed in the HSM: ceremony, seq, hash,
                           the exact statement signed and the signature (hex)

``keys/pinned-keys.json`` also holds each audit key, as ``"ledger audit key sha256:…": PEM``
(what ``custodians export-keys`` writes). Offline, each fingerprint is recomputed, each
signature verified under its key (the pinned one when pinned keys are given), each signed head
found with that hash in ``ledger.jsonl``, and the signatures' chain checked
(vault.ledger_hsm_heads.check_rows).
"""

from __future__ import annotations

import json

from vault.audit_signature import fingerprint
from vault.ledger_hsm_heads import AUDIT_PIN_PREFIX, check_rows, pinned_audit_keys
from vault.pgpwords import words_for
from vault.store.audit import HeadSignatureRecord


def _words(fp: str) -> str:
    return " ".join(words_for(bytes.fromhex(fp.split(":", 1)[-1])))


def _dump(obj) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def pins(store) -> dict[str, str]:
    """The audit keys' entries of a pin file."""
    return {AUDIT_PIN_PREFIX + k.fingerprint: k.public_key_pem for k in store.audit_keys()}


def export_files(store) -> dict[str, bytes]:
    keys = [{"fingerprint": k.fingerprint, "words": _words(k.fingerprint), "algorithm": k.algorithm,
             "token_serial": k.token_serial, "created_at": k.created_at, "ceremony_id": k.ceremony_id,
             "public_key_pem": k.public_key_pem} for k in store.audit_keys()]
    sigs = [{"ceremony_id": s.ceremony_id, "seq": s.seq, "hash": s.hash, "statement": s.statement,
             "signature_hex": s.signature_hex, "key_fingerprint": s.key_fingerprint, "at": s.at}
            for s in store.head_signatures()]
    return {"keys/audit-keys.json": _dump(keys), "head-signatures.json": _dump(sigs)}


def verify(root, events: dict[int, dict], pinned: dict[str, str] | None, rep) -> None:
    """Append every finding to ``rep.problems``; count the keys and signatures checked."""
    problems = rep.problems
    keys_path, sigs_path = root / "keys" / "audit-keys.json", root / "head-signatures.json"
    if not keys_path.is_file() and not sigs_path.is_file():
        rep.notes.append("no ledger audit key in this package (exported before it existed)")
        return
    package_pins = json.loads((root / "keys" / "pinned-keys.json").read_text(encoding="utf-8"))
    keys = {}
    for k in json.loads(keys_path.read_text(encoding="utf-8")):
        try:
            fp = fingerprint(k["public_key_pem"])
        except ValueError:
            fp = ""
        if fp != k["fingerprint"] or _words(k["fingerprint"]) != k["words"]:
            problems.append(f"keys/audit-keys.json: the audit key {k['fingerprint'][:23]}…'s fingerprint or words do "
                            "not match its public key")
            continue
        if package_pins.get(AUDIT_PIN_PREFIX + fp) != k["public_key_pem"]:
            problems.append(f"keys/pinned-keys.json: the audit key {fp[:23]}… differs from keys/audit-keys.json")
        keys[fp] = k["public_key_pem"]
        rep.keys += 1
    rows = [HeadSignatureRecord(n, s["ceremony_id"], s["seq"], s["hash"], s["statement"], s["signature_hex"],
                                s["key_fingerprint"], s["at"])
            for n, s in enumerate(json.loads(sigs_path.read_text(encoding="utf-8")), 1)]
    found = check_rows(rows, keys, pinned_audit_keys(pinned), lambda seq: (events.get(seq) or {}).get("hash"))
    problems += [f"head-signatures.json: {p}" for p in found.problems]
    rep.head_signatures = len(found.heads)
