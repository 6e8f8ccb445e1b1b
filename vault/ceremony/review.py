"""Review before action: what an irreversible HSM step shows, and confirms, before it acts.

A step kind that changes the HSM (or the vault's keys) irreversibly declares it when it is
registered (``step_kind(..., review="what the review shows")``) and, once every answer of the
step is in and checked, and before its first HSM call that changes anything, runs::

    yield from ctx.review("generate-key", "Generate a key in the HSM", [
        ReviewItem("Label", label), ReviewItem("Algorithm", algorithm.value), ...])

``ctx.review`` yields a ``ReviewPrompt``. The administrator and the witness both confirm it
(``ReviewAnswer(True, True)``); the witness is authenticated by their passphrase first, once per
ceremony (vault.ceremony.witness). The confirmed review goes to the ledger as
``review.confirmed`` with every item and the review's SHA-256, before the step acts. A
``BackAnswer`` at the review (the prompt's ``can_go_back``) returns to the step's last question
with every answer kept and nothing done; the ledger records ``review.withdrawn``.

The review's digest is SHA-256 over the canonical JSON (vault.store.canonical: sorted keys,
``,``/``:`` separators, UTF-8, no ASCII escaping) of::

    {"action": ..., "ceremony_id": ..., "items": [{"label": ..., "value": ..., "words": ...}, ...],
     "step": <step id>, "title": ...}
"""

from __future__ import annotations

from hashlib import sha256
from typing import Iterable

from vault.ceremony.prompts import ReviewItem
from vault.pgpwords import words_for
from vault.store.canonical import canonical_json


def item(label: str, value: object, *, words: str = "") -> ReviewItem:
    return ReviewItem(label, str(value), words)


def digest_item(label: str, hex_digest: str, *, full: bool = True) -> ReviewItem:
    """A SHA-256 (or any hex value) with its PGP words (all of them, or the first 8 bytes)."""
    data = bytes.fromhex(hex_digest)
    return ReviewItem(label, hex_digest, " ".join(words_for(data if full else data[:8])))


def fingerprint_item(label: str, fingerprint: str) -> ReviewItem:
    """``kcv:…`` / ``sha256:…`` key fingerprints, with the PGP words of their first 8 bytes."""
    hex_ = fingerprint.split(":", 1)[-1]
    return ReviewItem(label, fingerprint, " ".join(words_for(bytes.fromhex(hex_)[:8])))


def review_body(ceremony_id: str, step_id: str, action: str, title: str, items: Iterable[ReviewItem]) -> dict:
    return {"action": action, "ceremony_id": ceremony_id, "step": step_id, "title": title,
            "items": [{"label": i.label, "value": i.value, "words": i.words} for i in items]}


def review_sha256(body: dict) -> str:
    return sha256(canonical_json(body).encode("utf-8")).hexdigest()
