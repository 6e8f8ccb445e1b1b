"""The engine's side of the ledger audit key (vault.operations.audit_key) at a ceremony's end.

``open_signer`` runs while the quorum is still held, before the final event; ``sign_end`` after
it. A ceremony that never held a quorum has no signer: its end is covered by the next signed
head, and ``ledger verify`` says how far the HSM-signed span reaches. Neither ever stops the
ceremony's end: what the ceremony did is done, so a token that refuses is said (a notice and a
fact in the transcript) and the end stays unsigned.
"""

from __future__ import annotations

from vault.ceremony.events import Notice


def _unsigned(engine, why: str) -> None:
    step = engine.current_step
    line = f"The end head is not signed by the ledger audit key: {why}"
    engine.record_fact(step.id if step else "-", "Ledger audit key", line)
    engine.emit(Notice(ceremony_id=engine.ceremony_id, message=line, level="warning"))


def open_signer(engine):
    """An EndSigner when the ceremony holds a quorum (None otherwise, or when the token refuses)."""
    quorum = engine.secrets.quorum
    if quorum is None:
        return None
    from vault.operations.audit_key import open_end_signer

    try:
        return open_end_signer(engine.vault, quorum, ceremony_id=engine.ceremony_id,
                               actor=engine.values.get("administrator") or "console")
    except Exception as exc:  # noqa: BLE001 - the end goes on; the reason is recorded
        _unsigned(engine, getattr(exc, "code", type(exc).__name__) + (f": {exc}" if str(exc) else ""))
        return None


def sign_end(engine, signer, outcome: str) -> None:
    if signer is None:
        return
    try:
        signer.sign(outcome)
    except Exception as exc:  # noqa: BLE001
        _unsigned(engine, getattr(exc, "code", type(exc).__name__) + (f": {exc}" if str(exc) else ""))
    finally:
        try:
            signer.close()
        except Exception:  # noqa: BLE001 - a failed logout must not stop the end
            pass
