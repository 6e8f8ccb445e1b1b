"""HSM profiles: vendor facts as data (vault/hsm/profiles/*.toml, one file per implementation).

A profile holds what the console cannot ask the token: how a token comes to be initialised,
which mechanism numbers the vendor uses for RFC 5649 (the order ``wrap_mechanism = "auto"``
tries them in), how keys are wrapped for transport (``transport_wrap``), whether CKA_CHECK_VALUE exists, whether a trusted wrapping key can be made
safely, and notes for the custodians. Everything the token can answer is still asked of it
(PIN limits, mechanism list) and measured by the probe. Chosen by the token's manufacturer
and model; ``custodian.toml`` names one (``[hsm] profile``) or overrides fields
(``[hsm.profile_override]``). See vault/hsm/profiles/README.md for the fields.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from vault.errors import ConfigError
from vault.hsm.model import TokenInfo, WrapMechanism

PROFILE_DIR = Path(__file__).with_name("profiles")
SOURCES = ("tested-here", "documentation")
INITS = ("c-inittoken-new-so-pin", "c-inittoken-current-so-pin", "vendor-tools")
TRUSTED = ("safe", "unsafe", "unknown")
#: How a key is wrapped for transport to another vault (vault.hsm.transport): CKM_RSA_PKCS_OAEP
#: of an ephemeral AES key, then the key under it with RFC 5649, in two calls; or the same bytes
#: from CKM_RSA_AES_KEY_WRAP in one call (no token tested here offers it: refused, see transport).
TRANSPORT_WRAPS = ("oaep-then-kwp", "rsa-aes-key-wrap")
#: Fields custodian.toml may override ([hsm.profile_override]).
OVERRIDABLE = ("init", "wrap_mechanisms", "check_value", "trusted_wrapping", "transport_wrap", "notes")


@dataclass(frozen=True, slots=True)
class HsmProfile:
    key: str  # the file's stem, e.g. "thales-luna"
    name: str
    source: str
    manufacturer: str
    model: str
    init: str
    factory_so_pin_documented: bool
    wrap_mechanisms: tuple[WrapMechanism, ...]
    check_value: bool
    trusted_wrapping: str
    notes: tuple[str, ...]
    transport_wrap: str = "oaep-then-kwp"
    overridden: tuple[str, ...] = ()  # fields custodian.toml changed

    @property
    def tested_here(self) -> bool:
        return self.source == "tested-here"

    def matches(self, info: TokenInfo) -> bool:
        return fnmatch.fnmatchcase(info.manufacturer.strip(), self.manufacturer) and fnmatch.fnmatchcase(
            info.model.strip(), self.model
        )

    def describe(self) -> str:
        origin = "tested here" if self.tested_here else "from vendor documentation, not tested here"
        text = f"{self.name} ({origin})"
        if self.overridden:
            text += f"; custodian.toml overrides {', '.join(self.overridden)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["wrap_mechanisms"] = [m.name for m in self.wrap_mechanisms]
        data["notes"] = list(self.notes)
        data["overridden"] = list(self.overridden)
        return data


def _mechanisms(where: str, names: Any) -> tuple[WrapMechanism, ...]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: wrap_mechanisms is a list of mechanism names.")
    try:
        return tuple(WrapMechanism[n] for n in names)
    except KeyError as exc:
        raise ConfigError(f"{where}: unknown wrap mechanism {exc.args[0]!r}.",
                          next_step="Use AES_KEY_WRAP_KWP or AES_KEY_WRAP_PAD.") from None


def _check(where: str, data: dict[str, Any]) -> None:
    choices = {"source": SOURCES, "init": INITS, "trusted_wrapping": TRUSTED, "transport_wrap": TRANSPORT_WRAPS}
    for name, allowed in choices.items():
        if name in data and data[name] not in allowed:
            raise ConfigError(f"{where}: {name} must be one of {', '.join(allowed)}, not {data[name]!r}.")
    for name in ("check_value", "factory_so_pin_documented"):
        if name in data and not isinstance(data[name], bool):
            raise ConfigError(f"{where}: {name} is true or false.")
    if "notes" in data and not (isinstance(data["notes"], list) and all(isinstance(n, str) for n in data["notes"])):
        raise ConfigError(f"{where}: notes is a list of strings.")


def _parse(path: Path) -> HsmProfile:
    data = tomllib.loads(path.read_text())
    _check(str(path), data)
    match = data.get("match", {})
    return HsmProfile(
        key=path.stem,
        name=data["name"],
        source=data["source"],
        manufacturer=match.get("manufacturer", "*"),
        model=match.get("model", "*"),
        init=data["init"],
        factory_so_pin_documented=data.get("factory_so_pin_documented", False),
        wrap_mechanisms=_mechanisms(str(path), data.get("wrap_mechanisms", [])),
        check_value=data.get("check_value", True),
        trusted_wrapping=data.get("trusted_wrapping", "unknown"),
        notes=tuple(data.get("notes", [])),
        transport_wrap=data.get("transport_wrap", "oaep-then-kwp"),
    )


def all_profiles() -> dict[str, HsmProfile]:
    """Every profile shipped, by key (generic last when matching)."""
    return {p.stem: _parse(p) for p in sorted(PROFILE_DIR.glob("*.toml"))}


def profile_for(info: TokenInfo, *, name: str | None = None, overrides: dict[str, Any] | None = None) -> HsmProfile:
    """The profile for a token: ``name`` if custodian.toml names one, else the first whose
    manufacturer and model match (``generic`` last), with custodian.toml's overrides applied."""
    profiles = all_profiles()
    if name is not None:
        if name not in profiles:
            raise ConfigError(f"custodian.toml names the HSM profile {name!r}, which does not exist.",
                              next_step=f"Use one of: {', '.join(profiles)}.")
        chosen = profiles[name]
    else:
        specific = [p for k, p in profiles.items() if k != "generic" and p.matches(info)]
        chosen = specific[0] if specific else profiles["generic"]
    return apply_overrides(chosen, overrides or {})


def apply_overrides(profile: HsmProfile, overrides: dict[str, Any]) -> HsmProfile:
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ConfigError(f"custodian.toml [hsm.profile] has unknown fields: {', '.join(unknown)}.",
                          next_step=f"Fields that can be overridden: {', '.join(OVERRIDABLE)}.")
    if not overrides:
        return profile
    _check("custodian.toml [hsm.profile]", overrides)
    changes = dict(overrides)
    if "wrap_mechanisms" in changes:
        changes["wrap_mechanisms"] = _mechanisms("custodian.toml [hsm.profile]", changes["wrap_mechanisms"])
    if "notes" in changes:
        changes["notes"] = tuple(changes["notes"])
    return replace(profile, **changes, overridden=tuple(sorted(overrides)))
