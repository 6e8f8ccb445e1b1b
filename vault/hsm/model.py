"""Values that leave vault.hsm: no PKCS#11 object and no secret is reachable from them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from vault.errors import KeyNotWrappable, MechanismUnsupported
from vault.hsm.uri import format_uri
from vault.types import KeyAlgorithm, KeyPurpose


class WrapMechanism(enum.Enum):
    """The mechanism that wraps keys for backup. Configurable, and self-tested by the probe.

    The backup format is RFC 5649 (AES key wrap with padding). PKCS#11 has had two numbers
    for it: ``CKM_AES_KEY_WRAP_PAD`` (0x210A), which PKCS#11 3.1 deprecates because vendors
    implemented it differently, and ``CKM_AES_KEY_WRAP_KWP`` (0x210B). The practice token implements
    RFC 5649 under 0x210A and rejects 0x210B. ``AES_KEY_WRAP`` (RFC 3394, no padding) is a
    real mechanism a configuration could name by mistake: the token accepts it, but its
    output is not RFC 5649, which the self-test detects.
    """

    AES_KEY_WRAP_PAD = 0x210A
    AES_KEY_WRAP_KWP = 0x210B
    AES_KEY_WRAP = 0x2109

    @property
    def label(self) -> str:
        return f"{self.name} (0x{self.value:04X})"


class PinTries(enum.Enum):
    """What C_GetTokenInfo's flags say about the user PIN's retry counter.

    PKCS#11 gives no number of tries left, only flags: CKF_USER_PIN_COUNT_LOW (a wrong PIN since
    the last good login), CKF_USER_PIN_FINAL_TRY (the next wrong PIN locks it), CKF_USER_PIN_LOCKED.
    No flag means either a clean count or a token that does not report. Measured here: opencryptoki
    swtok sets COUNT_LOW after 1 wrong PIN, FINAL_TRY after 2, LOCKED after 3; the practice module sets
    COUNT_LOW after the first and never locks.
    """

    NOT_REPORTED = "not-reported"
    COUNT_LOW = "count-low"
    FINAL_TRY = "final-try"
    LOCKED = "locked"

    @property
    def said(self) -> str:
        """One clause for a message (what the token reports, never a guess at a number)."""
        return {
            PinTries.NOT_REPORTED: "the token's flags say nothing of its retry counter (no CKF_USER_PIN_COUNT_LOW "
                                   "or FINAL_TRY; it may still lock after a few wrong PINs)",
            PinTries.COUNT_LOW: "the token reports a wrong user PIN since its last good login "
                                "(CKF_USER_PIN_COUNT_LOW; it does not say how many tries are left)",
            PinTries.FINAL_TRY: "the token reports that the next wrong PIN locks it (CKF_USER_PIN_FINAL_TRY)",
            PinTries.LOCKED: "the token has locked the user PIN (CKF_USER_PIN_LOCKED)",
        }[self]


#: The token label of the ledger audit key (vault.operations.audit_key). It has spaces, which no
#: master key's label can have (vault.keynames), and ``HsmSession.list_keys`` leaves it out: it is
#: the vault's own signing key, not a master key the database records.
AUDIT_KEY_LABEL = "custodian ledger audit key"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What C_GetTokenInfo says about a token, at the time it was read (it goes stale).

    A token is identified by slot + label + serial: serials alone are not unique everywhere
    (tpm2-pkcs11 gives every token the same one), and slot ids change when some modules are
    re-initialised, so a TokenInfo re-selects by label and serial and uses the slot only to
    tell apart two tokens that are otherwise alike. ``min_pin_len``/``max_pin_len`` are the
    token's own limits (ulMinPinLen/ulMaxPinLen): PINs are checked against them before any
    call. ``protected_authentication_path``: the token takes PINs on its own device (PED).
    """

    label: str
    manufacturer: str
    model: str
    serial: str
    firmware: str
    flags: tuple[str, ...]
    initialised: bool
    user_pin_initialised: bool
    slot_id: int = field(default=-1, compare=False)  # where it was read; some modules renumber slots
    min_pin_len: int = 0
    max_pin_len: int = 0
    protected_authentication_path: bool = False

    @property
    def user_pin_tries(self) -> PinTries:
        """The user PIN's retry flags as C_GetTokenInfo reported them (stale like the rest)."""
        flags = set(self.flags)
        for flag, tries in (("USER_PIN_LOCKED", PinTries.LOCKED), ("USER_PIN_FINAL_TRY", PinTries.FINAL_TRY),
                            ("USER_PIN_COUNT_LOW", PinTries.COUNT_LOW)):
            if flag in flags:
                return tries
        return PinTries.NOT_REPORTED

    def check_pin_length(self, pin_len: int, what: str) -> None:
        """PinLengthInvalid (before any call) if a PIN of ``pin_len`` characters does not fit."""
        low, high = self.min_pin_len, self.max_pin_len or 10**6
        if not low <= pin_len <= high:
            from vault.errors import PinLengthInvalid

            raise PinLengthInvalid(
                f"The {what} has {pin_len} characters; {self.name_for_messages()} takes "
                f"{self.min_pin_len} to {self.max_pin_len}."
            )

    def name_for_messages(self) -> str:
        """``token 'label' (serial ..., maker model)``, or for a token not initialised yet (no label,
        on some modules no serial either) ``the uninitialised token in slot N (maker model)``."""
        if self.initialised:
            return f"token {self.describe()}"
        return f"the uninitialised token in slot {self.slot_id} ({self.manufacturer} {self.model})"


    @property
    def uri(self) -> str:
        """An RFC 7512 URI that selects exactly this token (by label and serial)."""
        return format_uri(token=self.label, serial=self.serial)

    def describe(self) -> str:
        return f"'{self.label}' (serial {self.serial}, {self.manufacturer} {self.model})"

    def describe_slot(self) -> str:
        return f"slot {self.slot_id}: {self.describe()}"


@dataclass(frozen=True, slots=True)
class KeyObject:
    """A key on a token, as the vault talks about it.

    ``fingerprint``: ``kcv:`` + 6 hex for AES (AES-ECB(K, 0^16)[:3]); ``sha256:`` + hex of
    the SubjectPublicKeyInfo DER for key pairs; ``""`` for a pair whose public half is gone
    and whose private half does not expose the public value (EC), so it cannot be computed.
    """

    label: str
    key_id: str  # hex of CKA_ID
    algorithm: KeyAlgorithm
    fingerprint: str
    extractable: bool
    has_private: bool
    has_public: bool
    purpose: KeyPurpose | None = None  # what the vault recorded; None: the algorithm's default


@dataclass(frozen=True, slots=True)
class AlgorithmCapability:
    """What the probe found for one algorithm; ``note`` says how it decided."""

    algorithm: KeyAlgorithm
    generate: bool
    sign: bool
    wrap: bool
    unwrap: bool
    note: str = ""

    @property
    def backup(self) -> bool:
        """A key of this algorithm can be generated, backed up and restored."""
        return self.generate and self.wrap and self.unwrap


@dataclass(frozen=True, slots=True)
class Capabilities:
    wrap_mechanism: WrapMechanism
    self_test_ok: bool
    self_test_error: str | None
    algorithms: tuple[AlgorithmCapability, ...]
    token_model: str = ""
    check_value: bool = True  # the token sets CKA_CHECK_VALUE on AES keys (else the KCV is computed)
    wrap_mechanisms_offered: tuple[WrapMechanism, ...] = ()  # RFC 5649 candidates C_GetMechanismList lists
    # CKF_PROTECTED_AUTHENTICATION_PATH: the token takes PINs on its own device (PED, PIN pad)
    protected_authentication_path: bool = False

    def __getitem__(self, algorithm: KeyAlgorithm) -> AlgorithmCapability:
        for capability in self.algorithms:
            if capability.algorithm is algorithm:
                return capability
        raise KeyError(algorithm)

    def generatable(self) -> tuple[KeyAlgorithm, ...]:
        return tuple(c.algorithm for c in self.algorithms if c.generate)

    def require_self_test(self) -> None:
        if not self.self_test_ok:
            raise MechanismUnsupported(
                f"The wrap mechanism {self.wrap_mechanism.label} failed its self-test: {self.self_test_error}",
                next_step="Set [hsm] wrap_mechanism = \"auto\" (or one that `custodian doctor` lists as offered); "
                "a token without RFC 5649 key wrap cannot make backups.",
            )

    def require_backup(self, algorithm: KeyAlgorithm) -> None:
        """Raise KeyNotWrappable unless keys of ``algorithm`` can be wrapped and unwrapped here."""
        self.require_self_test()
        capability = self[algorithm]
        if not (capability.wrap and capability.unwrap):
            raise KeyNotWrappable(
                f"This token ({self.token_model}) cannot wrap and unwrap {algorithm.value} keys "
                f"with {self.wrap_mechanism.label}, so they cannot be backed up. {capability.note}".strip()
            )


@dataclass(frozen=True, eq=False)
class WrappingKey:
    """A backup KEK imported into one session (a session object: gone when the session closes).

    ``kcv`` identifies the KEK without revealing it; the key bytes are not kept here.
    """

    kcv: str
    _object: Any = field(repr=False, compare=False)
    _session_id: int = field(repr=False, compare=False)
