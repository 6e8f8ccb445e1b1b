"""An activated quorum: the quorum secret (QS) held in memory for one ceremony, and what derives from it.

``ActiveQuorum`` is the only holder of the QS outside vault.shares. Every derivation
(user PIN, SO PIN, backup KEK, bundle MAC key) returns a *fresh* ``Secret`` that the caller
wipes as soon as it has used it; ``wipe()`` ends the quorum. Nothing here is ever written to
disk, the database or the ledger: events name the share set, never a secret.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from vault import shares
from vault.backup.format import kek_check_value
from vault.errors import ConfigError, QuorumCheckFailed, ShareRetired
from vault.secret import Secret
from vault.shares import ShareCollector
from vault.shares.derive import HEX_PIN_LEN
from vault.store.records import ShareSetRecord, ShareSetStatus

if TYPE_CHECKING:
    from vault.vault import Vault

ACTOR = "console"


class ActiveQuorum:
    """The QS of one share set, checked against the set's stored check value on construction."""

    __slots__ = ("_qs", "share_set", "pin_max_len")

    def __init__(self, qs: Secret, share_set: ShareSetRecord, *, pin_max_len: int | None = None) -> None:
        if not isinstance(qs, Secret):
            raise TypeError("the quorum secret must be a vault.secret.Secret")
        if not hmac.compare_digest(shares.check_value(qs), share_set.check_value):
            raise QuorumCheckFailed(
                f"The quorum secret does not match the check value of share set {share_set.name!r}.",
                next_step="Activate the quorum again with shares of this share set.",
            )
        self._qs = qs
        self.share_set = share_set
        # the token's ulMaxPinLen where it is below 32 (vault.shares.encode_pin): the PINs fit it
        self.pin_max_len = pin_max_len

    # --- derivations: fresh Secrets, wipe them after use ------------------------------------
    def user_pin(self, max_len: int | None = None) -> Secret:
        """The user PIN fitted to the vault's token, or to ``max_len`` characters (another token:
        a drill token; 32 or more is the full 32 hex characters; see :func:`pin_len_for`)."""
        return shares.derive_user_pin(self._qs, max_len or self.pin_max_len)

    def so_pin(self, max_len: int | None = None) -> Secret:
        return shares.derive_so_pin(self._qs, max_len or self.pin_max_len)

    def kek(self) -> Secret:
        return shares.derive_backup_kek(self._qs)

    def mac_key(self) -> Secret:
        return shares.derive_bundle_mac_key(self._qs)

    def metadata_key(self) -> Secret:
        return shares.derive_backup_metadata_key(self._qs)

    def kek_check_value(self) -> str:
        """6 hex digits, as the bundle header carries it; safe to show and store."""
        with self.kek() as kek:
            return kek_check_value(kek)

    # --- identity -----------------------------------------------------------------------------
    @property
    def share_set_id(self) -> int:
        return self.share_set.id

    @property
    def identifier(self) -> int:
        """The SLIP-39 identifier of the share set (not secret)."""
        return self.share_set.identifier

    @property
    def wiped(self) -> bool:
        return self._qs.wiped

    def wipe(self) -> None:
        self._qs.wipe()

    def __enter__(self) -> "ActiveQuorum":
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    def __repr__(self) -> str:
        state = "wiped" if self._qs.wiped else "active"
        return f"<ActiveQuorum share set {self.share_set.name!r} ({self.share_set.describe()}) {state}>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an ActiveQuorum cannot be pickled")


def activate(vault: Vault, collector: ShareCollector, passphrase: Secret | None, *, actor: str = ACTOR) -> ActiveQuorum:
    """Combine the collected shares into the QS and check it before anything touches the HSM.

    The collector checks the recovered QS against the set it was built for; this then finds
    that set in the database (by SLIP-39 identifier and check value) and refuses a retired
    set: after a reshare the old shares open nothing new.
    """
    expected = collector.expected
    record = _share_set_of(vault, expected.identifier, expected.check_value)
    if record.status is ShareSetStatus.RETIRED:
        raise ShareRetired(
            f"Share set {record.name!r} was retired on {record.retired_at}; its shares open nothing any more."
        )
    qs = collector.recover(passphrase)
    try:
        quorum = ActiveQuorum(qs, record, pin_max_len=pin_max_len_of(vault))
    except BaseException:
        qs.wipe()
        raise
    vault.ledger.append(
        "quorum.activated",
        {
            "share_set_id": record.id,
            "share_set": record.name,
            "policy": record.describe(),
            "shares_entered": [[r.group, r.member] for r in collector.entered],
        },
        actor=actor,
        ceremony_id=collector.ceremony_id,
    )
    return quorum


SETTING_PIN_MAX_LEN = "token.pin_max_len"  # set by init where the token takes fewer than 32 characters


def pin_max_len_of(vault: Vault) -> int | None:
    """The PIN length the vault's token was fitted to at init (None: 32 hex characters)."""
    value = vault.store.get_setting(SETTING_PIN_MAX_LEN)
    return int(value) if value else None


def token_pin_limit(info) -> int | None:
    """A token's own PIN limit (ulMaxPinLen, a TokenInfo's max_pin_len) where it is below the 32
    hex characters of a derived PIN; None where the full PIN fits (or the token is unknown)."""
    limit = info.max_pin_len if info is not None else 0
    return limit if 0 < limit < HEX_PIN_LEN else None


def pin_len_for(quorum: ActiveQuorum, info) -> int | None:
    """The PIN length for a token that is not the vault's (a drill token): the vault token's fit,
    or the token's own limit where that is shorter. None: the full 32 hex characters."""
    limit = token_pin_limit(info)
    own = quorum.pin_max_len or HEX_PIN_LEN
    return limit if limit is not None and limit < own else quorum.pin_max_len


def _share_set_of(vault: Vault, identifier: int, check_value: str) -> ShareSetRecord:
    for record in vault.store.list_share_sets():
        if record.identifier == identifier and hmac.compare_digest(record.check_value, check_value):
            return record
    raise QuorumCheckFailed(
        "No share set of this vault has the identifier and check value of the shares entered.",
        next_step="Collect shares of this vault's active share set.",
    )


def new_quorum_secret(vault: Vault) -> Secret:
    """A fresh QS: 32 bytes of the HSM's RNG mixed with the host CSPRNG (vault.shares).

    The RNG is the vault's token's. Init initialises that token first (with transient PINs,
    vault.operations.token) precisely so that its RNG is the one used; the fallbacks (any
    initialised token, and in a practice home with none a practice scratch token wiped at once)
    only serve callers outside the init ceremony.
    """
    from vault.errors import TokenNotFound

    module = vault.hsm()
    try:
        return shares.new_quorum_secret(module.random(module.find_token(vault.token), 32))
    except TokenNotFound:
        pass
    tokens = module.tokens()
    if tokens:
        return shares.new_quorum_secret(module.random(tokens[0], 32))
    if not vault.home.is_practice:
        raise TokenNotFound(
            "No initialised token can give random bytes for the quorum secret.",
            next_step="Connect the HSM; a token the vendor tools initialised is enough for its RNG.",
        )
    return shares.new_quorum_secret(_scratch_random(vault, module, 32))


def _scratch_random(vault: Vault, module, n: int) -> bytes:
    import os

    from vault import hsm

    hsm.write_practice_conf(vault.home.path)  # see practice_scratch: only owned confs are wiped
    so_pin, user_pin = Secret(os.urandom(16).hex(), "so-pin"), Secret(os.urandom(16).hex(), "user-pin")
    info = module.init_token(f"rng-{os.urandom(4).hex()}", so_pin, user_pin)
    try:
        return module.random(info, n)
    finally:
        try:
            module.wipe_practice_token(info, user_pin=user_pin)
        finally:
            so_pin.wipe()
            user_pin.wipe()


def wrap_mechanism(vault: Vault):
    """The backup wrap mechanism custodian.toml configures (vault.hsm self-tests it at the probe)."""
    from vault.hsm import WrapMechanism

    name = vault.home.config.wrap_mechanism
    try:
        return WrapMechanism[name]
    except KeyError:
        raise ConfigError(
            f"custodian.toml names the wrap mechanism {name!r}, which the console does not know.",
            next_step="Use AES_KEY_WRAP_PAD (0x210A) or AES_KEY_WRAP_KWP (0x210B), whichever the token offers (see `custodian doctor`).",
        ) from None


def open_token_session(vault: Vault, quorum: ActiveQuorum, *, ceremony_id: str | None = None):
    """A logged-in session on the vault's token; the user PIN is derived from the QS and wiped at once."""
    mechanism = wrap_mechanism(vault)
    module = vault.hsm()
    if vault.home.config.pin_policy != "quorum":  # refused before any login (vault.operations.pin_policy)
        from vault.operations.pin_policy import require_pin_policy

        require_pin_policy(vault, module.find_token(vault.token), what="log in to")
    if vault.home.config.pin_policy == "hsm-procedure":  # the PIN holder's PIN, not the quorum's
        from vault.operations.hsm_procedure import open_procedure_session

        session = open_procedure_session(vault, wrap_mechanism=mechanism, ceremony_id=ceremony_id)
    else:
        with quorum.user_pin() as pin:
            session = module.open_session(vault.token, pin, wrap_mechanism=mechanism)
    from vault.operations.trusted_policy import trusted_wrapping

    # where the token's profile makes it safe, backed-up keys wrap only under an SO-made KEK (vault.hsm.trusted)
    session.trusted_wrapping = trusted_wrapping(vault, session.token)
    return session
