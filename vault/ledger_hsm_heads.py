"""Checking the end heads the ledger audit key signed in the HSM (vault.operations.audit_key).

For each row of ``head_signatures`` (from a checkpoint: those at or after it):

* the signature verifies (vault.audit_signature) under the recorded audit key whose fingerprint
  the statement names, and that key is pinned when pinned keys are given (an audit key is
  pinned as ``"ledger audit key sha256:…": PEM``, written by ``custodians export-keys``);
* the statement is for that row's ceremony and head;
* the head is still in the ledger with exactly that hash: a tail cut or a rewrite before a signed
  end is caught by this signature alone, even when the forger fixed the ceremonies table;
* ``previous-signed-head`` is the head signed just before (the signatures chain), so a signed
  head deleted from between two others is named.

What no HSM signature covers (ceremonies that ended without a quorum, and everything after the
last signed end) is said by the caller (vault.ledger_anchors), never hidden. The newest signed
head's own row can be deleted without a trace here: the head on that ceremony's paper shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vault.audit_signature import fingerprint, parse_statement, verifies
from vault.ledger import LedgerHead

AUDIT_PIN_PREFIX = "ledger audit key "


@dataclass
class HsmHeads:
    problems: list[str] = field(default_factory=list)
    heads: list[tuple[str, LedgerHead]] = field(default_factory=list)  # (ceremony id, head) that verify
    keys: int = 0


def pinned_audit_keys(pinned: dict[str, str] | None) -> dict[str, str] | None:
    """fingerprint -> PEM of the audit keys in a pin file (None when no pin file was given)."""
    if pinned is None:
        return None
    out = {}
    for name, pem in pinned.items():
        if name.startswith(AUDIT_PIN_PREFIX):
            try:
                out[fingerprint(pem)] = pem
            except ValueError:
                continue
    return out


def check(store, *, pinned: dict[str, str] | None, last_seq: int, from_seq: int = 1) -> HsmHeads:
    """The vault's own head signatures (from ``from_seq``) against its ledger up to ``last_seq``."""
    keys = {k.fingerprint: k.public_key_pem for k in store.audit_keys()}
    rows = store.head_signatures(from_seq)
    previous = store.head_signature_before(rows[0].id) if from_seq > 1 and rows else None

    def hash_at(seq: int) -> str | None:
        row = store.ledger_row(seq) if seq <= last_seq else None
        return None if row is None else row.hash

    out = check_rows(rows, keys, pinned_audit_keys(pinned), hash_at, previous=previous)
    out.keys = len(keys)
    return out


def check_rows(rows, keys: dict[str, str], pins: dict[str, str] | None, hash_at, *, previous=None) -> HsmHeads:
    """``rows``: head signatures in signing order (``previous``: the one signed before the first);
    ``keys``: fingerprint -> PEM as recorded; ``pins``: the pinned audit keys, or None;
    ``hash_at(seq)``: the ledger's hash of event ``seq``, or None when there is none."""
    out = HsmHeads()
    for sig in rows:
        who = f"the HSM-signed end head of {sig.ceremony_id}"
        pem = keys.get(sig.key_fingerprint)
        if pins is not None:
            if sig.key_fingerprint not in pins:
                out.problems.append(f"{who}: its ledger audit key {sig.key_fingerprint[:23]}… is not in the pinned keys "
                                    "(replaced, or made after the pin file: export the keys again and compare).")
                previous = sig
                continue
            pem = pins[sig.key_fingerprint]
        if pem is None or not verifies(pem, sig.statement, sig.signature_hex):
            out.problems.append(f"{who}: the signature does not verify under the ledger audit key "
                                f"{sig.key_fingerprint[:23]}….")
            previous = sig
            continue
        st = parse_statement(sig.statement)
        if (st is None or st.ceremony_id != sig.ceremony_id or (st.seq, st.hash_hex) != (sig.seq, sig.hash)
                or st.audit_key != sig.key_fingerprint):
            out.problems.append(f"{who}: the signed statement is for another ceremony or head.")
            previous = sig
            continue
        want = None if previous is None else (previous.seq, previous.hash)
        if st.previous != want:
            named = "none" if st.previous is None else f"event {st.previous[0]}"
            out.problems.append(f"{who} says the head signed before it was {named}, but the one recorded before it is "
                                f"{'none' if want is None else 'event ' + str(want[0])}: a signed head was deleted.")
        previous = sig
        if hash_at(sig.seq) != sig.hash:
            out.problems.append(f"{who} (event {sig.seq} {sig.hash[:16]}…) is no longer in the ledger: it was "
                                "truncated or rewritten before it.")
            continue
        out.heads.append((sig.ceremony_id, LedgerHead(sig.seq, sig.hash)))
    return out
