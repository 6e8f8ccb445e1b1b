"""One typed share, checked word by word, then against a share set and its commitments.

Each failure is named precisely, and every message echoes at most the share's two identifying
words (plus, for a non-word, that token as typed): never more of the share.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Sequence

from shamir_mnemonic import MnemonicError, Share

from vault.errors import ShareChecksumInvalid, ShareForeign, ShareLengthInvalid, ShareRetired
from vault.secret import Secret
from vault.shares.derive import LABEL_SHARE_COMMITMENT
from vault.shares.model import SHARE_WORDS, KnownShareSet, ShareRef, ShareSetPublic
from vault.shares.words import IDENTIFYING_WORDS, canonical, normalise_words


@dataclass(frozen=True, slots=True)
class ParsedShare:
    """A share's public parameters and its canonical text (the only secret part, kept in a Secret)."""

    ref: ShareRef
    identifier: int
    extendable: bool
    iteration_exponent: int
    group_threshold: int
    group_count: int
    member_threshold: int
    set_words: str  # the two identifying words
    text: Secret  # canonical mnemonic

    def wipe(self) -> None:
        self.text.wipe()


def commitment(salt_hex: str, canonical_share: str | Secret) -> str:
    """HMAC-SHA256(salt, label || 0x00 || canonical share), hex (see vault.shares.derive)."""
    data = canonical_share.reveal() if isinstance(canonical_share, Secret) else canonical_share.encode()
    return hmac.new(bytes.fromhex(salt_hex), LABEL_SHARE_COMMITMENT + b"\x00" + data, hashlib.sha256).hexdigest()


def parse_share(text: str | Secret, word_count: int = SHARE_WORDS) -> ParsedShare:
    """Words, length, checksum: ``ShareWordInvalid``, ``ShareLengthInvalid``, ``ShareChecksumInvalid``."""
    words = normalise_words(text)
    ident = canonical(words[:IDENTIFYING_WORDS])
    if len(words) != word_count:
        fix = "a word is missing" if len(words) < word_count else "a word was typed twice or is extra"
        raise ShareLengthInvalid(
            f"The share has {len(words)} words; a share of this quorum has {word_count}.",
            next_step=f"Compare the count with the share card: {fix}.",
        )
    mnemonic = Secret(canonical(words), "share")
    try:
        share = Share.from_mnemonic(mnemonic.reveal_text())
    except MnemonicError as exc:
        mnemonic.wipe()
        # The library's message quotes four words of the share: never pass it on.
        what = "fails its checksum" if "checksum" in str(exc) else "is not a valid SLIP-39 share"
        raise ShareChecksumInvalid(
            f"The share starting {ident!r} {what}: at least one word is wrong.",
            next_step="Compare every word with the share card and type the share again.",
        ) from None
    return ParsedShare(
        ref=ShareRef(share.group_index, share.index),
        identifier=share.identifier,
        extendable=share.extendable,
        iteration_exponent=share.iteration_exponent,
        group_threshold=share.group_threshold,
        group_count=share.group_count,
        member_threshold=share.member_threshold,
        set_words=ident,
        text=mnemonic,
    )


def belongs(share: ParsedShare, public: ShareSetPublic) -> bool:
    """Whether the share's SLIP-39 parameters are those of ``public`` (identifier and shape)."""
    g, m = share.ref.group, share.ref.member
    return (
        share.identifier == public.identifier
        and share.extendable == public.extendable
        and share.iteration_exponent == public.iteration_exponent
        and share.group_threshold == public.group_threshold
        and share.group_count == len(public.groups)
        and g < len(public.groups)
        and share.member_threshold == public.groups[g].threshold
        and m < public.groups[g].count
    )


def matches_commitment(share: ParsedShare, public: ShareSetPublic) -> bool | None:
    """True/False against the stored commitment; None if the set stored none for this share."""
    stored = public.commitment(share.ref)
    if stored is None:
        return None
    return hmac.compare_digest(commitment(public.commitment_salt, share.text), stored)


def raise_if_known_elsewhere(share: ParsedShare, expected: ShareSetPublic, known: Sequence[KnownShareSet]) -> None:
    """Name the known set a share belongs to (identifier compared, confirmed by commitment)."""
    for other in known:
        if other.public == expected or not belongs(share, other.public):
            continue
        if matches_commitment(share, other.public) is not True:
            continue
        holder = other.holder(share.ref)
        which = f"{holder}'s, {share.ref.describe()}" if holder else share.ref.describe()
        if other.status == "retired":
            when = other.retired_at or "an unrecorded date"
            raise ShareRetired(
                f"This share ({which}, starting {share.set_words!r}) belongs to share set "
                f"{other.name!r}, retired on {when}. It opens nothing any more."
            )
        raise ShareForeign(
            f"This share ({which}, starting {share.set_words!r}) belongs to share set "
            f"{other.name!r} ({other.status}), not to the set this step needs (shares start "
            f"{expected.identifying_words!r})."
        )


def raise_foreign(share: ParsedShare, expected: ShareSetPublic, known: Sequence[KnownShareSet]) -> None:
    raise_if_known_elsewhere(share, expected, known)
    if share.set_words == expected.identifying_words:
        raise ShareForeign(
            f"This share starts {share.set_words!r} like the shares this step needs, but its group and "
            f"threshold parameters differ: it belongs to another share set."
        )
    raise ShareForeign(
        f"This share starts {share.set_words!r} and belongs to a share set the console does not know; "
        f"the shares this step needs start {expected.identifying_words!r}."
    )
