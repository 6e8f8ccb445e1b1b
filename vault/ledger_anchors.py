"""Anchoring the ledger: signed heads that a consistent rewrite or a truncation cannot survive.

A plain hash chain shows an edit, but not a chain recomputed from some event on (every hash
redone) or a chain whose tail was cut. What anchors it here:

* **signed heads.** Every attestation is an Ed25519 signature, by an enrolled person, of a
  statement naming the ceremony's closing head (vault.identity.attestation_statement). The
  signatures are kept apart from the ledger (the attestations table), so after a rewrite or a
  truncation the ledger no longer holds the head a signature names. ``check`` verifies every
  signature (under the enrolled key, or a pinned one), that the named head is in the ledger with
  exactly that hash, and that every ``ceremony.attested`` event has its signature (a deleted
  signature is named);
* **chained ceremonies.** Each ``ceremony.started`` records the previous ceremony's end head
  (``previous_end_head``), and that start is covered by the new ceremony's signatures, so a
  ceremony's end is anchored by the next signed ceremony;
* **paper.** ``Ledger.verify(expected_head=...)`` (``custodian ledger verify --expected-head``)
  compares with a head read from paper.

What it cannot prove is said, never hidden: the events after the last signed head (the last
ceremony's attestation events and its end, and anything after) are covered by no signature; a
forger who cut or rewrote only those is caught by the paper head alone. Whoever can replace
the enrolled public keys too re-signs at will: pin the keys (``custodian custodians
export-keys``, kept off the machine) and pass them as ``pinned``.

``check`` reads the whole chain once; with ``from_checkpoint`` it verifies only from the last
verified checkpoint on (the dashboard and doctor), where the checkpoint is a signed head that a
previous full check found good (kept in the settings as ``ledger.checkpoint``): the checkpoint's
event must still have its hash and its signature must still verify, then the chain and the
anchors after it are checked.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from hashlib import sha256

from vault import chain_pass
from vault.ledger import GENESIS_PREV_HASH, LedgerHead, LedgerReport

CHECKPOINT_SETTING = "ledger.checkpoint"
UNKNOWN_SEQ = -1  # an expected head given without its seq whose hash no event has
_ATTESTED_PREFIX = b'{"action":"ceremony.attested",'
_STARTED_PREFIX = b'{"action":"ceremony.started",'
_CLOSING_PREFIX = b'{"action":"ceremony.closing",'
_NOTES = (_ATTESTED_PREFIX, _STARTED_PREFIX, _CLOSING_PREFIX)
HSM_SIGNER = "the ledger audit key"


@dataclass(frozen=True)
class SignedHead:
    ceremony_id: str
    participant: str
    seq: int
    hash_hex: str


@dataclass
class AnchorReport:
    """``chain``: the hash chain's own report. ``problems``: anchors that fail (each a sentence);
    ``signed``: the signed heads checked; ``last_signed``: the newest good one; ``unproven``: what
    no signature covers (a sentence, or None when the last event is itself signed)."""

    chain: LedgerReport
    problems: list[str] = field(default_factory=list)
    signed: int = 0
    last_signed: LedgerHead | None = None
    unproven: str | None = None
    start_seq: int = 1
    hsm_signed: int = 0  # end heads the ledger audit key signed (checked from start_seq)
    hsm_first: LedgerHead | None = None  # the oldest of them (checked from start_seq)
    hsm_last: LedgerHead | None = None  # the newest of them

    def hsm_span(self) -> str:
        """Which span of the ledger the ledger audit key's signatures cover, in words."""
        if self.hsm_last is None:
            return ("no end head signed by the ledger audit key" + (" after the checkpoint" if self.start_seq > 1 else "")
                    + ": ceremonies that hold a quorum sign their end with it")
        heads, them = ("end head", "it") if self.hsm_signed == 1 else ("end heads", "them")
        span = (f"event {self.hsm_last.seq}" if self.hsm_first.seq == self.hsm_last.seq
                else f"events {self.hsm_first.seq} to {self.hsm_last.seq}")
        return (f"{self.hsm_signed} {heads} signed in the HSM by the ledger audit key, {span}: a cut or rewrite "
                f"before event {self.hsm_last.seq} is caught by {them}")

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def check(vault, *, pinned: dict[str, str] | None = None, expected_head: LedgerHead | None = None,
          from_checkpoint: bool = False, batch_size: int = chain_pass.BATCH) -> AnchorReport:
    """Verify the chain and every signed head (module doc). Never raises for tampering."""
    from vault.identity import verify_attestation
    from vault.errors import SignatureInvalid

    store = vault.store
    checkpoint = _checkpoint(store) if from_checkpoint else None
    problems: list[str] = []
    start, prev = 1, GENESIS_PREV_HASH
    if checkpoint is not None:
        row = store.ledger_row(checkpoint.seq)
        if row is None or row.hash != checkpoint.hash_hex:
            problems.append(f"the verified checkpoint (event {checkpoint.seq}) is gone or changed: the ledger was "
                            "truncated or rewritten; run `custodian ledger verify --full`.")
            checkpoint = None
        else:
            start, prev = checkpoint.seq + 1, checkpoint.hash_hex

    # 1. the chain from start (vault.chain_pass), noting the events the anchors need (found by
    #    their body's prefix, so the pass stays a plain hash loop for every other event; the
    #    closings only in a full check, which then needs no query per ceremony for them)
    done = chain_pass.run(store, start, prev, notes=_NOTES if checkpoint is None else _NOTES[:2],
                          batch_size=batch_size)
    attested: list[tuple[int, dict]] = []
    starts: list[tuple[int, dict]] = []
    closing_events: list[tuple[int, bytes, dict]] = []
    for seq, body in done.noted:
        event = json.loads(body)
        if body.startswith(_ATTESTED_PREFIX):
            attested.append((seq, event))
        elif body.startswith(_STARTED_PREFIX):
            starts.append((seq, event))
        else:
            closing_events.append((seq, body, event))
    expected, prev = done.next_seq, done.prev
    chain = None if done.ok else LedgerReport(False, expected - 1, LedgerHead(expected - 1, prev), *done.diagnosis())
    if chain is None:
        chain = LedgerReport(True, expected - 1, LedgerHead(expected - 1, prev))
        if expected_head is not None and expected_head.seq == UNKNOWN_SEQ:
            chain = LedgerReport(False, chain.count, chain.head, chain.count + 1,
                                 f"no event has the expected head {expected_head.hash_hex[:16]}…: the ledger was "
                                 "truncated or rewritten before it.")
        elif expected_head is not None:
            chain = vault.ledger.verify_expected(chain, expected_head)
    last_seq = chain.count if chain.ok else (chain.first_bad_seq or 1) - 1
    scanned_closings: dict[str, dict[str, int]] = {}  # ceremony id -> {hash: seq} (the pass verified the hash)
    for seq, body, event in closing_events:
        if seq <= last_seq:
            scanned_closings.setdefault(event["ceremony_id"], {})[sha256(body).hexdigest()] = seq

    # 2. every signature, and every signed head still in the ledger with its hash (from a
    #    checkpoint: only the ceremonies attested after it)
    heads: list[SignedHead] = []
    keys = {r.name: r.public_key_pem for r in store.list_custodians(status=None)}
    by_ceremony: dict[str, list] = {}
    recent = {e["ceremony_id"] for _, e in attested}
    closings: dict[str, dict[str, int]] = {}
    # from a checkpoint only the ceremonies attested after it are read (the refresh stays small
    # however many ceremonies the vault has had); the full check reads every signature
    rows = store.all_attestations() if checkpoint is None else [
        a for cid in sorted(recent) for a in store.attestations_of(cid)]
    for a in rows:
        by_ceremony.setdefault(a.ceremony_id, []).append(a)
        fields = dict(line.split(": ", 1) for line in a.statement.splitlines()[1:] if ": " in line)
        who = f"the attestation of {a.custodian_name} in {a.ceremony_id}"
        pem = keys.get(a.custodian_name)
        if pinned is not None and a.custodian_name in pinned:
            if not _same_key(pinned[a.custodian_name], pem):
                problems.append(f"{who}: the enrolled key differs from the pinned key (the keys were replaced).")
                continue
            pem = pinned[a.custodian_name]
        try:
            verify_attestation(pem or "", a.statement.encode("utf-8"), bytes.fromhex(a.signature_hex))
        except (SignatureInvalid, ValueError):
            problems.append(f"{who}: the signature does not verify under {a.custodian_name}'s key.")
            continue
        if fields.get("ceremony-id") != a.ceremony_id or fields.get("custodian") != a.custodian_name:
            problems.append(f"{who}: the signed statement is for another ceremony or person.")
            continue
        if a.ceremony_id not in closings:
            closings[a.ceremony_id] = scanned_closings.get(a.ceremony_id, {}) if checkpoint is None else {
                e.hash: e.seq for e in vault.ledger.events_of(a.ceremony_id)
                if e.action == "ceremony.closing" and e.seq <= last_seq}
        head = closings[a.ceremony_id].get(fields.get("ledger-head", ""))
        if head is None:
            problems.append(f"{who}: the head it signs ({fields.get('ledger-head', '')[:16]}…) is no longer in the "
                            "ledger: the ledger was truncated or rewritten before it.")
            continue
        heads.append(SignedHead(a.ceremony_id, a.custodian_name, head, fields["ledger-head"]))

    # 3. every ceremony.attested event has its signature; a signed ceremony has its end
    for seq, e in attested:
        rows = by_ceremony.get(e["ceremony_id"], [])
        if not any(r.custodian_name == e["details"].get("participant") for r in rows):
            problems.append(f"event {seq} records the attestation of {e['details'].get('participant')} in "
                            f"{e['ceremony_id']}, but its signature is gone (deleted).")
    recorded = Counter(e["ceremony_id"] for _, e in attested)  # one count, not a pass over them per ceremony
    for cid, rows in by_ceremony.items():
        if checkpoint is None and len(rows) > recorded[cid] and chain.ok:
            problems.append(f"{cid} has {len(rows)} signed attestations but the ledger records {recorded[cid]}: "
                            "events were removed.")
    for c in store.ceremonies_ended_from(start):
        end = c.ledger_end
        if end is None or end.seq is None or end.seq < start:
            continue
        row = store.ledger_row(end.seq) if end.seq <= last_seq else None
        if row is None or row.hash != end.hash_hex:
            problems.append(f"{c.id} ended at event {end.seq} {(end.hash_hex or '')[:16]}…, which the ledger no longer "
                            "has: it was truncated or rewritten.")
    for seq, e in starts:
        prev_end = e["details"].get("previous_end_head")
        if prev_end:
            row = store.ledger_row(prev_end["seq"]) if prev_end["seq"] <= last_seq else None
            if row is None or row.hash != prev_end["hash"]:
                problems.append(f"event {seq} (the start of {e['ceremony_id']}) records the previous ceremony's end "
                                f"as event {prev_end['seq']} {prev_end['hash'][:16]}…, which the ledger no longer "
                                "has: it was truncated or rewritten.")

    # 3b. the end heads the ledger audit key signed in the HSM (vault.ledger_hsm_heads)
    from vault import ledger_hsm_heads

    hsm = ledger_hsm_heads.check(store, pinned=pinned, last_seq=last_seq, from_seq=start)
    problems += hsm.problems

    # 4. what no signature covers
    good = [h for h in heads if h.seq <= last_seq]
    good += [SignedHead(cid, HSM_SIGNER, h.seq, h.hash_hex) for cid, h in hsm.heads]
    last = max(good, key=lambda h: h.seq, default=None)
    report = AnchorReport(chain, problems, signed=len({(h.ceremony_id, h.participant) for h in heads}),
                          start_seq=start, hsm_signed=len(hsm.heads))
    if hsm.heads:
        report.hsm_first = min((h for _, h in hsm.heads), key=lambda h: h.seq)
        report.hsm_last = max((h for _, h in hsm.heads), key=lambda h: h.seq)
    if last is not None:
        report.last_signed = LedgerHead(last.seq, last.hash_hex)
    elif checkpoint is not None:
        report.last_signed = checkpoint
    signed_to = report.last_signed.seq if report.last_signed else 0
    if last_seq > signed_to:
        report.unproven = (f"events {signed_to + 1} to {last_seq} come after the last signed head "
                           f"({'event ' + str(signed_to) if signed_to else 'none yet'}): no signature covers them, so "
                           "a cut or rewrite there shows only against a head on paper (--expected-head).")
    if report.ok and report.last_signed is not None and report.last_signed != checkpoint:
        save_checkpoint(store, report.last_signed)
    return report


def save_checkpoint(store, head: LedgerHead) -> None:
    store.set_setting(CHECKPOINT_SETTING, json.dumps({"seq": head.seq, "hash": head.hash_hex}))


def _checkpoint(store) -> LedgerHead | None:
    raw = store.get_setting(CHECKPOINT_SETTING)
    try:
        d = json.loads(raw) if raw else None
        return LedgerHead(int(d["seq"]), str(d["hash"])) if d else None
    except (ValueError, KeyError, TypeError):
        return None


def _same_key(a: str | None, b: str | None) -> bool:
    from cryptography.hazmat.primitives import serialization

    def der(pem):
        try:
            return serialization.load_pem_public_key(pem.encode()).public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        except (ValueError, AttributeError, TypeError):
            return None
    return a is not None and b is not None and der(a) is not None and der(a) == der(b)


def parse_expected_head(text: str, vault=None) -> LedgerHead:
    """A head read from paper: ``SEQ:HEX``, ``SEQ:WORDS`` (PGP words), or HEX / WORDS alone (then
    the event with that hash is looked up). ``UsageError`` names what is wrong."""
    from vault.errors import UsageError
    from vault.pgpwords import bytes_for

    seq_text, sep, value = text.strip().partition(":")
    if not sep or not seq_text.strip().isdigit():
        seq_text, value = "", text.strip()
    value = value.strip()
    cleaned = value.replace(" ", "").lower()
    if len(cleaned) == 64 and all(ch in "0123456789abcdef" for ch in cleaned):
        hash_hex = cleaned
    else:
        try:
            hash_hex = bytes_for(value.split()).hex()
        except (ValueError, KeyError):
            raise UsageError(f"--expected-head {text!r} is neither 64 hex digits nor 32 PGP words of a head.",
                             next_step="Give the head as printed: SEQ:HEX (e.g. 61:3f2a…) or its PGP words.") from None
        if len(hash_hex) != 64:
            raise UsageError(f"--expected-head has {len(hash_hex) // 2} bytes of PGP words; a head has 32.",
                             next_step="Copy all 32 words of the head from the paper.")
    if seq_text:
        return LedgerHead(int(seq_text), hash_hex)
    found = vault.store.ledger_seq_of_hash(hash_hex) if vault is not None else None
    return LedgerHead(found if found is not None else UNKNOWN_SEQ, hash_hex)
