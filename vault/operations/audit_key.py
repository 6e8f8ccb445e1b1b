"""The ledger audit key: a signing key pair in the HSM that signs every ceremony's end head.

Made by init's commit step (reviewed and attested with it), or, on a home whose current token
has none (made before this existed, restored onto a new token), at the end of its next ceremony
that holds a quorum; on the vault's token, labelled
:data:`vault.hsm.model.AUDIT_KEY_LABEL`. The algorithm is the first of Ed25519, EC P-256 and
RSA-3072 that the token's probe says it can generate and sign with, tried in that order (a token
that refuses one gets the next). The private half is sensitive and never extractable, sign-only:
it is **not** in backups, because a key that can be wrapped could be unwrapped elsewhere and sign
for this vault. After a restore onto a new token the next ceremony makes a new audit key there;
its ``ledger.audit_key_created`` event (public key, fingerprint, token, reason) is in the ledger,
and the old key's signatures keep verifying under the old public key, which stays recorded.

At the end (completed, completed with dissent, aborted) the engine opens the session while the
quorum is still held (:func:`open_end_signer`), appends the final event, and the HSM signs
:class:`vault.audit_signature.HeadStatement` naming it (:meth:`EndSigner.sign`); the signature is
re-verified in software and kept in ``head_signatures`` (vault.store.audit).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from vault.audit_signature import HeadStatement, verifies
from vault.errors import HsmCheckFailed, VaultError
from vault.store.audit import AuditKeyRecord, HeadSignatureRecord
from vault.types import KeyAlgorithm, KeyPurpose

if TYPE_CHECKING:
    from vault.vault import Vault

#: tried in this order; the token's probe may rule some out first
ALGORITHMS = (KeyAlgorithm.ED25519, KeyAlgorithm.EC_P256, KeyAlgorithm.RSA_3072)


def _key_object(record: AuditKeyRecord):
    from vault.hsm import KeyObject

    return KeyObject(record.label, record.cka_id, KeyAlgorithm(record.algorithm), record.fingerprint,
                     extractable=False, has_private=True, has_public=True, purpose=KeyPurpose.SIGN)


def _candidates(session) -> tuple[KeyAlgorithm, ...]:
    """The algorithms to try, in order: those the probe says this token generates and signs with."""
    try:
        caps = session.probe(session.wrap_mechanism)
    except VaultError:  # a token without key wrap has no probe for its wrap mechanism: just try
        return ALGORITHMS
    return tuple(a for a in ALGORITHMS if caps[a].generate and caps[a].sign) or ALGORITHMS


def _generate(session):
    from vault.hsm.model import AUDIT_KEY_LABEL

    last: VaultError | None = None
    for algorithm in _candidates(session):
        try:
            return session.generate(AUDIT_KEY_LABEL, algorithm, backup=False, purpose=KeyPurpose.SIGN)
        except VaultError as exc:  # this token refuses that algorithm: the next one
            last = exc
    raise HsmCheckFailed(f"The token made no ledger audit key (tried {', '.join(a.value for a in ALGORITHMS)}): "
                         f"{last}", next_step="Check the token with `custodian doctor`.")


def ensure_audit_key(vault: Vault, session, *, ceremony_id: str | None, actor: str) -> AuditKeyRecord:
    """The token's recorded audit key, or a new one (recorded in the store and the ledger)."""
    serial = session.token.serial
    record = vault.store.audit_key_of_token(serial)
    on_token = {k.key_id: k for k in session.audit_keys() if k.has_private and k.has_public}
    if record is not None and (k := on_token.get(record.cka_id)) is not None and k.fingerprint == record.fingerprint:
        return record
    known = {r.fingerprint for r in vault.store.audit_keys()}
    stray = [k for k in on_token.values() if k.fingerprint not in known]
    if stray:  # made, then the console stopped before recording it: it is ours (only a quorum logs in)
        key, reason = stray[0], "found on the token unrecorded (the console stopped after making it)"
    else:
        key = _generate(session)
        if not known:
            reason = "the vault's first ledger audit key"
        elif record is None:
            reason = f"a new token ({serial}): an audit key never leaves its HSM, so a restored vault makes a new one"
        else:
            reason = f"the audit key {record.fingerprint} is no longer on token {serial}"
    pem = session.public_key_pem(key)
    with vault.store.atomic():
        made = vault.store.add_audit_key(fingerprint=key.fingerprint, algorithm=key.algorithm.value,
                                         label=key.label, cka_id=key.key_id, token_serial=serial,
                                         public_key_pem=pem, ceremony_id=ceremony_id)
        vault.ledger.append("ledger.audit_key_created", {
            "fingerprint": key.fingerprint, "algorithm": key.algorithm.value, "token_serial": serial,
            "label": key.label, "extractable": False, "backup": "never: a new key after a restore",
            "public_key_pem": pem, "reason": reason}, actor=actor, ceremony_id=ceremony_id)
    return made


class EndSigner:
    """An open session on the vault's token and its audit key, for one ceremony's end."""

    def __init__(self, vault: Vault, session, key: AuditKeyRecord, ceremony_id: str) -> None:
        self.vault, self.session, self.key, self.ceremony_id = vault, session, key, ceremony_id

    def sign(self, outcome: str) -> HeadSignatureRecord:
        """Sign the ledger's head (the ceremony's final event) in the HSM and record it."""
        store = self.vault.store
        head = self.vault.ledger.head()
        prev = store.last_head_signature()
        statement = HeadStatement(self.ceremony_id, outcome, head.seq, head.hash_hex,
                                  None if prev is None else (prev.seq, prev.hash), self.key.fingerprint,
                                  datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")).text()
        signature = self.session.sign(_key_object(self.key), statement.encode("utf-8")).hex()
        if not verifies(self.key.public_key_pem, statement, signature):  # the recorded public key, not the token's
            raise HsmCheckFailed("The ledger audit key's signature does not verify under its recorded public key.")
        return store.add_head_signature(ceremony_id=self.ceremony_id, seq=head.seq, hash_hex=head.hash_hex,
                                        statement=statement, signature_hex=signature,
                                        key_fingerprint=self.key.fingerprint)

    def close(self) -> None:
        self.session.close()


def open_end_signer(vault: Vault, quorum, *, ceremony_id: str, actor: str) -> EndSigner:
    """A session opened with the quorum (before it is wiped) and the token's audit key (made if missing)."""
    from vault.operations.quorum import open_token_session

    session = open_token_session(vault, quorum, ceremony_id=ceremony_id)
    try:
        return EndSigner(vault, session, ensure_audit_key(vault, session, ceremony_id=ceremony_id, actor=actor),
                         ceremony_id)
    except BaseException:
        session.close()
        raise
