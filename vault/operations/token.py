"""Initialise the vault's token: SO PIN and user PIN derived from the quorum secret.

A vault has one token. Initialising another one (a replacement after loss, or the fresh
token a restore goes onto) must be asked for explicitly; a token that is already
initialised is never re-initialised (that would wipe it).
"""

from __future__ import annotations

from vault.errors import HsmCheckFailed, TokenInUse
from vault.hsm import TokenInfo, parse_token_uri
from vault.operations._common import ACTOR
from vault.operations.quorum import ActiveQuorum

SETTING_LABEL = "token.label"
SETTING_SERIAL = "token.serial"
SETTING_MODEL = "token.model"


def configured_token_label(vault) -> str | None:
    """The label the home's configuration selects the token by, if it names one."""
    token = vault.token
    if token.startswith("pkcs11:"):
        return parse_token_uri(token).token
    return token


def initialise_token(
    vault,
    quorum: ActiveQuorum,
    label: str | None = None,
    *,
    replacement: bool = False,
    ceremony_id: str | None = None,
    actor: str = ACTOR,
) -> TokenInfo:
    """C_InitToken on the free slot with the QS-derived SO PIN, then C_InitPIN with the user PIN.

    Refused (nothing changes) when a token with ``label`` is already initialised, or when this
    vault already has a token and ``replacement`` is not set. Records label, serial and model
    in settings and the ledger.
    """
    label = label or configured_token_label(vault)
    if not label:
        raise TokenInUse(
            "The home's configuration selects the token by serial only, so there is no label to initialise.",
            next_step="Give the new token's label explicitly.",
        )
    module = vault.hsm()
    clash = [t for t in module.tokens() if t.label == label]
    if clash:
        raise TokenInUse(
            f"A token labelled {label!r} is already initialised (serial {clash[0].serial}); it was left unchanged."
        )
    previous = vault.store.get_setting(SETTING_SERIAL)
    if previous and not replacement:
        raise TokenInUse(
            f"This vault already has its token (serial {previous}).",
            next_step="Initialise a new token only as a replacement (restore ceremony), and say so explicitly.",
        )
    with quorum.so_pin() as so_pin, quorum.user_pin() as user_pin:
        info = module.init_token(label, so_pin, user_pin)
        # A freshly initialised token holds nothing: confirm before the vault relies on it.
        with module.open_session(info, user_pin) as session:
            found = session.list_keys()
    if found:
        raise HsmCheckFailed(f"The newly initialised token {info.describe()} already holds {len(found)} keys.")
    with vault.store.atomic():
        vault.store.set_setting(SETTING_LABEL, info.label)
        vault.store.set_setting(SETTING_SERIAL, info.serial)
        vault.store.set_setting(SETTING_MODEL, f"{info.manufacturer} {info.model}".strip())
        vault.ledger.append(
            "token.initialised",
            {
                "label": info.label,
                "serial": info.serial,
                "manufacturer": info.manufacturer,
                "model": info.model,
                "firmware": info.firmware,
                "replacement": bool(previous),
                "previous_serial": previous,
                "share_set_id": quorum.share_set_id,
            },
            actor=actor,
            ceremony_id=ceremony_id,
        )
    return info
