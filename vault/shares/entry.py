"""Share entry as it is typed: what the first words already say, and which word is wrong.

A SLIP-39 share announces itself in its first four words (SLIP-39, "Format of the share
mnemonic"): words 1-2 hold the set's identifier, extendable flag and iteration exponent; words
3-4 hold the group index, group threshold, group count, member index and member threshold.
None of this is secret (it is the same, or nearly, on every share of a set). So a front end can
say, from the fourth word on and long before the checksum, that the share belongs to a retired
set, to no set this console knows, or was already entered, and whose share it is.

``EntryGuide`` carries only public records (the expected set's ``ShareSetPublic``, the sets the
console knows, who holds which share, which shares were already entered); prompts hand it to
the front end, which calls ``check_prefix`` on every accepted word and ``locate`` on a complete
share that fails its checksum, all in memory and in well under a millisecond. The engine stays
the authority: what it decides at submission (commitments included) is what counts; an early
verdict is a warning given sooner.

The prefix layout is decoded here from the specification (shamir-mnemonic exports no prefix
decoder); ``tests/shares/test_entry.py`` checks it against ``Share.from_mnemonic`` on real
shares of every shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from shamir_mnemonic.wordlist import WORDLIST

from vault.shares.locate import locate_wrong_word
from vault.shares.model import KnownShareSet, ShareRef, ShareSetPublic
from vault.shares.words import IDENTIFYING_WORDS, set_words

PREFIX_WORDS = 4  # identifier words + the two words of group and member parameters
_INDEX = {w: i for i, w in enumerate(WORDLIST)}


@dataclass(frozen=True, slots=True)
class SharePrefix:
    """What the first words of a share say. The group/member fields are None before word 4."""

    identifier: int
    extendable: bool
    iteration_exponent: int
    ref: ShareRef | None = None
    group_threshold: int | None = None
    group_count: int | None = None
    member_threshold: int | None = None

    @property
    def set_words(self) -> str:
        return set_words(self.identifier, self.extendable, self.iteration_exponent)


def decode_prefix(words: Sequence[str]) -> SharePrefix | None:
    """Decode the first two (or four) full SLIP-39 words; None when fewer or not words."""
    try:
        idx = [_INDEX[w] for w in words[:PREFIX_WORDS]]
    except KeyError:
        return None
    if len(idx) < IDENTIFYING_WORDS:
        return None
    id_exp = idx[0] << 10 | idx[1]  # 15 bits identifier | 1 bit extendable | 4 bits exponent
    head = dict(identifier=id_exp >> 5, extendable=bool(id_exp >> 4 & 1), iteration_exponent=id_exp & 0xF)
    if len(idx) < PREFIX_WORDS:
        return SharePrefix(**head)
    params = idx[2] << 10 | idx[3]  # five 4-bit fields
    group_index, gt, gc, member_index, mt = ((params >> s) & 0xF for s in (16, 12, 8, 4, 0))
    return SharePrefix(**head, ref=ShareRef(group_index, member_index), group_threshold=gt + 1,
                       group_count=gc + 1, member_threshold=mt + 1)


def describe_share(ref: ShareRef, public: ShareSetPublic) -> str:
    """"share 2" in a one-group set, "group 1, share 2" otherwise (as on the dashboard)."""
    if len(public.groups) == 1:
        return f"share {ref.member + 1}"
    return f"group {ref.group + 1}, share {ref.member + 1}"


@dataclass(frozen=True, slots=True)
class PrefixVerdict:
    """An early word about a share being typed. ``ok`` False: it will be refused."""

    ok: bool
    message: str
    code: str = ""
    next_step: str = ""
    holder: str | None = None  # whose share it is, when the store knows

    def line(self) -> str:
        if self.ok:
            return f"✓ {self.message}"
        return f"✗ {self.code}: {self.message} Next: {self.next_step}"


@dataclass(frozen=True, slots=True)
class EntryGuide:
    """Public facts for early share checks (see the module docstring). Never holds a share."""

    expected: ShareSetPublic
    set_name: str = ""
    holders: tuple[tuple[ShareRef, str], ...] = ()  # of the expected set
    known: tuple[KnownShareSet, ...] = ()  # every set the console has a record of
    known_holders: tuple[tuple[int, ShareRef, str], ...] = ()  # (share_set_id, ref, custodian)
    entered: tuple[ShareRef, ...] = ()  # already entered in this quorum
    own: ShareRef | None = None  # verify-back: the share being typed back
    custodian: str | None = None  # verify-back: its holder

    # -- names ---------------------------------------------------------------------------------
    def holder_of(self, ref: ShareRef) -> str | None:
        return dict(self.holders).get(ref)

    def _known_holder(self, share_set_id: int, ref: ShareRef) -> str | None:
        return next((n for s, r, n in self.known_holders if s == share_set_id and r == ref), None)

    def _whose(self, name: str | None, what: str) -> str:
        return f"{name}'s share ({what})" if name else what

    # -- the early checks ----------------------------------------------------------------------
    def check_prefix(self, words: Sequence[str]) -> PrefixVerdict | None:
        """A verdict once words 1-2 (the set) and 1-4 (group and member) are in; else None."""
        prefix = decode_prefix(words)
        if prefix is None:
            return None
        exp = self.expected
        same_set = (prefix.identifier == exp.identifier and prefix.extendable == exp.extendable
                    and prefix.iteration_exponent == exp.iteration_exponent)
        if not same_set:
            return self._other_set(prefix)
        if prefix.ref is None:
            return None
        ref = prefix.ref
        if (prefix.group_threshold != exp.group_threshold or prefix.group_count != len(exp.groups)
                or ref.group >= len(exp.groups) or prefix.member_threshold != exp.groups[ref.group].threshold
                or ref.member >= exp.groups[ref.group].count):
            return PrefixVerdict(False, f"Words 1-2 are those of share set {self._set_label()}, but words 3-4 do not "
                                 f"fit its {exp.policy.describe()} shape.", "SHARE_FOREIGN",
                                 "Compare words 3 and 4 with the card: one of them is probably mistyped.")
        what = describe_share(ref, exp)
        holder = self.holder_of(ref)
        if self.own is not None and ref != self.own:
            mine = describe_share(self.own, exp)
            return PrefixVerdict(False, f"Words 3-4 are those of {self._whose(holder, what)}, not of "
                                 f"{self._whose(self.custodian, mine)}.", "SHARE_MISMATCH",
                                 "Type your own card; compare words 3 and 4 with it.", holder)
        if ref in self.entered:
            return PrefixVerdict(False, f"{self._whose(holder, what).capitalize()} was already entered in this "
                                 "quorum.", "SHARE_DUPLICATE",
                                 "Clear it (escape); the next custodian types their own share.", holder)
        return PrefixVerdict(True, f"{self._whose(holder, what)} of share set {self._set_label()}", holder=holder)

    def _set_label(self) -> str:
        return f"'{self.set_name}'" if self.set_name else f"“{self.expected.identifying_words}”"

    def _other_set(self, prefix: SharePrefix) -> PrefixVerdict:
        for other in self.known:
            p = other.public
            if (p.identifier, p.extendable, p.iteration_exponent) != (
                    prefix.identifier, prefix.extendable, prefix.iteration_exponent):
                continue
            name = self._known_holder(other.share_set_id, prefix.ref) if prefix.ref is not None else None
            what = self._whose(name, describe_share(prefix.ref, p)) if prefix.ref is not None else "a share"
            if other.status == "retired":
                when = (other.retired_at or "an unrecorded date")[:10]
                return PrefixVerdict(False, f"This is {what} of share set '{other.name}', retired on {when}: it "
                                     "opens nothing any more.", "SHARE_RETIRED",
                                     f"Clear it (escape) and use the card of share set {self._set_label()}.", name)
            return PrefixVerdict(False, f"This is {what} of share set '{other.name}' ({other.status}), not of "
                                 f"{self._set_label()}.", "SHARE_FOREIGN",
                                 f"Clear it (escape) and use the card of share set {self._set_label()}.", name)
        return PrefixVerdict(False, f"A share starting “{prefix.set_words}” belongs to no share set this console "
                             f"knows; the shares needed start “{self.expected.identifying_words}”.", "SHARE_FOREIGN",
                             "Compare words 1 and 2 with the card; if they match, the card is of another vault.")

    # -- a complete share that fails its checksum ---------------------------------------------
    def locate(self, words: Sequence[str]) -> int | None:
        """The 1-based position of the one wrong word (checksum and commitment agree), or None."""
        return locate_wrong_word(words, (self.expected,) + tuple(k.public for k in self.known))


def located_message(position: int | None) -> tuple[str, str]:
    """(message, next step) for a share that failed its checksum, with or without a position."""
    if position is None:
        return ("The share fails its checksum and no single word explains it: more than one word is wrong.",
                "Compare every word with the card, from word 1.")
    return (f"Word {position} is wrong (the checksum and the stored record of this share agree on it).",
            f"Compare word {position} with the card and type it again.")


def located_checksum_error(exc, text, sets: Sequence[ShareSetPublic]):
    """``exc`` (a ShareChecksumInvalid of ``text``) pointing to the wrong word when the search
    finds it; the headless collector and verify-back raise this instead of the bare error."""
    from vault.errors import ShareChecksumInvalid
    from vault.shares.words import normalise_words

    words = normalise_words(text)
    position = locate_wrong_word(words, sets)
    del words
    if position is None:
        return exc
    message, next_step = located_message(position)
    start = exc.message.split(":", 1)[0]  # "The share starting 'x y' fails its checksum"
    return ShareChecksumInvalid(f"{start}: {message[0].lower()}{message[1:]}", next_step=next_step)
