"""Collect shares one custodian at a time, naming every problem at entry, before combining.

Order of checks for each share (the first failure is raised; nothing is kept on error):

1. every token is a SLIP-39 word or a unique prefix          ShareWordInvalid (position, as typed)
2. the number of words                                        ShareLengthInvalid
3. the RS1024 checksum                                        ShareChecksumInvalid (naming the
                                                              wrong word when one substitution
                                                              and a commitment agree)
4. the set: identifier and shape equal the expected set's     ShareForeign / ShareRetired (named
                                                              from ``known``, confirmed by commitment)
5. already entered: the same words                            ShareDuplicate
                    other words under the same number         ShareConflict
6. the commitment stored when the share was distributed       ShareMismatch
"""

from __future__ import annotations

import hmac
from typing import Mapping, Sequence

from shamir_mnemonic import MnemonicError, combine_mnemonics

from vault.errors import (
    QuorumCheckFailed,
    QuorumIncomplete,
    ShareChecksumInvalid,
    ShareConflict,
    ShareDuplicate,
    ShareMismatch,
)
from vault.secret import Secret
from vault.shares.derive import check_value
from vault.shares.entry import located_checksum_error
from vault.shares.model import GroupProgress, KnownShareSet, Progress, ShareRef, ShareSetPublic
from vault.shares.parse import (
    ParsedShare,
    belongs,
    matches_commitment,
    parse_share,
    raise_foreign,
    raise_if_known_elsewhere,
)


class ShareCollector:
    """A UI-free quorum collector for one share set and one ceremony (``ceremony_id``)."""

    def __init__(self, expected: ShareSetPublic, *, ceremony_id: str, known: Sequence[KnownShareSet] = (),
                 holders: Mapping[ShareRef, str] | None = None) -> None:
        self._expected = expected
        self._ceremony_id = ceremony_id
        self._known = tuple(known)
        self._holders = dict(holders or {})  # messages name the custodian who holds a member
        self._shares: dict[ShareRef, ParsedShare] = {}
        self._last: ShareRef | None = None

    @property
    def expected(self) -> ShareSetPublic:
        return self._expected

    @property
    def ceremony_id(self) -> str:
        return self._ceremony_id

    @property
    def entered(self) -> tuple[ShareRef, ...]:
        return tuple(sorted(self._shares))

    @property
    def is_complete(self) -> bool:
        return self.progress().is_complete

    def add(self, text: str | Secret) -> Progress:
        try:
            share = parse_share(text, self._expected.word_count)
        except ShareChecksumInvalid as exc:  # point to the wrong word when checksum and commitment agree
            sets = (self._expected, *(k.public for k in self._known))
            raise located_checksum_error(exc, text, sets) from None
        try:
            self._check(share)
        except BaseException:
            share.wipe()
            raise
        self._shares[share.ref] = share
        self._last = share.ref
        return self.progress()

    def _check(self, share: ParsedShare) -> None:
        expected = self._expected
        if not belongs(share, expected):
            raise_foreign(share, expected, self._known)
        held = self._shares.get(share.ref)
        if held is not None:
            who = self._describe(share.ref)
            if hmac.compare_digest(held.text.reveal(), share.text.reveal()):
                raise ShareDuplicate(f"{who} was already entered ({self.progress().describe()}).")
            raise ShareConflict(f"{who} was already entered, with other words: "
                                f"this share does not match what was distributed.")
        if matches_commitment(share, expected) is False:
            # A 1-in-32768 identifier collision with a known set is named before calling it a typo.
            raise_if_known_elsewhere(share, expected, self._known)
            raise ShareMismatch(f"{self._describe(share.ref)} does not match what was distributed.")

    def _describe(self, ref: ShareRef) -> str:
        return ref.describe(capital=True, holder=self._holders.get(ref))

    def progress(self) -> Progress:
        counts = [0] * len(self._expected.groups)
        for ref in self._shares:
            counts[ref.group] += 1
        return Progress(
            groups=tuple(
                GroupProgress(g, counts[g], spec.threshold, spec.count) for g, spec in enumerate(self._expected.groups)
            ),
            group_threshold=self._expected.group_threshold,
            last=self._last,
        )

    def recover(self, passphrase: Secret | None) -> Secret:
        """The quorum secret, confirmed by the set's check value (``QuorumCheckFailed`` otherwise)."""
        progress = self.progress()
        if not progress.is_complete:
            raise QuorumIncomplete(f"Not enough shares yet: {progress.describe()}.")
        if self._expected.passphrase and (passphrase is None or len(passphrase) == 0):
            raise QuorumCheckFailed(
                "This share set was made with a passphrase, and none was given.",
                next_step="Ask for the passphrase and enter it.",
            )
        chosen: list[str] = []
        for group in [g for g in progress.groups if g.complete][: progress.group_threshold]:
            refs = sorted(r for r in self._shares if r.group == group.group)[: group.threshold]
            chosen.extend(self._shares[r].text.reveal_text() for r in refs)
        try:
            value = combine_mnemonics(chosen, passphrase=passphrase.reveal() if passphrase else b"")
        except MnemonicError:
            raise QuorumCheckFailed(
                "The shares were each accepted but do not combine into one secret.",
                next_step="Re-enter the shares; if this repeats, the share set's record is damaged.",
            ) from None
        finally:
            del chosen
        qs = Secret(value, "quorum-secret")
        if not hmac.compare_digest(check_value(qs), self._expected.check_value):
            qs.wipe()
            raise QuorumCheckFailed(
                "The recovered quorum secret does not match this share set's check value: the "
                "passphrase is wrong, or the shares are a consistent set of another quorum.",
                next_step="Enter the passphrase again carefully; nothing was sent to the HSM.",
            )
        return qs

    def reset(self) -> None:
        """Forget every share entered (wiping them); the collector can be used again."""
        for share in self._shares.values():
            share.wipe()
        self._shares.clear()
        self._last = None

    wipe = reset

    def __repr__(self) -> str:
        return f"<ShareCollector set {self._expected.identifying_words!r} {self.progress().describe()}>"
