"""PKCS#11 URIs (RFC 7512) as token selectors.

Only the attributes that identify a *token* are accepted: ``token`` (the label),
``serial``, ``manufacturer`` and ``model``, and ``slot-id`` only next to ``token`` or
``serial``: it tells apart tokens that are otherwise alike (tpm2-pkcs11 gives every token
the same serial) but never selects on its own, because some modules (the practice token's) renumber slots
whenever the library is re-initialised. Everything else is refused with a message that
says why: other slot attributes, object
attributes (this selects a token, not a key), library/module attributes (the module is
configured, not chosen per URI) and PINs (a PIN never goes into a URI, a file or a log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from vault.errors import ConfigError


class TokenUriInvalid(ConfigError):
    code = "HSM_URI"
    title = "PKCS#11 URI not accepted"
    default_next_step = "Write the token as pkcs11:token=<label> or pkcs11:serial=<serial> (RFC 7512)."


_SCHEME = "pkcs11:"
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FIELDS = {"token": "token", "serial": "serial", "manufacturer": "manufacturer", "model": "model"}
_REFUSED = {
    "slot-description": "select the token by label or serial, not by its slot",
    "slot-manufacturer": "select the token by label or serial, not by its slot",
    "object": "it names a key, not a token; keys are chosen by label inside the console",
    "id": "it names a key, not a token; keys are chosen by label inside the console",
    "type": "it names a kind of object, not a token",
    "library-manufacturer": "the PKCS#11 module is set in custodian.toml, not in the URI",
    "library-description": "the PKCS#11 module is set in custodian.toml, not in the URI",
    "library-version": "the PKCS#11 module is set in custodian.toml, not in the URI",
    "module-name": "the PKCS#11 module is set in custodian.toml, not in the URI",
    "module-path": "the PKCS#11 module is set in custodian.toml, not in the URI",
    "pin-value": "a PIN never goes into a URI; the console asks for it (or derives it from the quorum)",
    "pin-source": "a PIN never goes into a URI; the console asks for it (or derives it from the quorum)",
}


@dataclass(frozen=True, slots=True)
class TokenUri:
    """A parsed token URI; unset fields match anything."""

    token: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    slot_id: int | None = None

    def matches(self, label: str, serial: str, manufacturer: str, model: str) -> bool:
        return all(
            want is None or want == have
            for want, have in (
                (self.token, label),
                (self.serial, serial),
                (self.manufacturer, manufacturer),
                (self.model, model),
            )
        )

    def describe(self) -> str:
        return format_uri(self.token, self.serial, self.manufacturer, self.model, self.slot_id)


def _decode(name: str, raw: str) -> str:
    if _PCT.search(raw):
        raise TokenUriInvalid(f"The value of '{name}' has a '%' that is not followed by two hex digits.")
    try:
        value = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise TokenUriInvalid(f"The value of '{name}' is not UTF-8 after percent-decoding.") from None
    if not value:
        raise TokenUriInvalid(f"The attribute '{name}' is empty.")
    return value


def parse_token_uri(text: str) -> TokenUri:
    """Parse ``pkcs11:token=root-hsm;serial=...`` into a :class:`TokenUri`.

    Attribute names are case-sensitive as RFC 7512 says; values are percent-decoded.
    Duplicates, unknown attributes and the refused ones (see module doc) raise
    :class:`TokenUriInvalid`.
    """
    if not text.startswith(_SCHEME):
        raise TokenUriInvalid("A PKCS#11 URI starts with 'pkcs11:'.")
    rest = text[len(_SCHEME) :]
    path, _, query = rest.partition("?")
    fields: dict[str, str] = {}
    seen: set[str] = set()
    parts = [(p, "path") for p in path.split(";") if p] + [(q, "query") for q in query.split("&") if q]
    for part, where in parts:
        name, eq, raw = part.partition("=")
        if not eq:
            raise TokenUriInvalid(f"'{name}' has no '=' (URI attributes are name=value).")
        if name in seen:
            raise TokenUriInvalid(f"The attribute '{name}' appears twice.")
        seen.add(name)
        if where == "path" and name in _FIELDS:
            fields[_FIELDS[name]] = _decode(name, raw)
        elif where == "path" and name == "slot-id":
            value = _decode(name, raw)
            if not value.isdigit():
                raise TokenUriInvalid("The slot-id is a decimal number.")
            fields["slot_id"] = int(value)
        elif name in _REFUSED:
            raise TokenUriInvalid(f"The attribute '{name}' is not accepted: {_REFUSED[name]}.")
        else:
            raise TokenUriInvalid(
                f"Unknown or unsupported attribute '{name}'; accepted: token, serial, manufacturer, model, slot-id."
            )
    if "slot_id" in fields and not ({"token", "serial"} & fields.keys()):
        raise TokenUriInvalid(
            "The attribute 'slot-id' is not accepted alone: slot ids change when some modules are "
            "re-initialised; it only tells apart tokens that token= and serial= name alike."
        )
    return TokenUri(**fields)


def format_uri(
    token: str | None = None, serial: str | None = None, manufacturer: str | None = None, model: str | None = None,
    slot_id: int | None = None,
) -> str:
    """The RFC 7512 URI for the given token attributes (percent-encoded)."""
    pairs = [("token", token), ("manufacturer", manufacturer), ("model", model), ("serial", serial),
             ("slot-id", None if slot_id is None else str(slot_id))]
    return _SCHEME + ";".join(f"{k}={quote(v, safe='')}" for k, v in pairs if v is not None)
