"""The lost home's ``custodian.toml`` in a bundle, and what of it a rebuild carries to the new home.

Everything a vault decides lives in its database and travels in every bundle's metadata: key
names, purposes, activation and expiry dates, cryptoperiods, the token PIN limit the derived PINs
are fitted to (setting ``token.pin_max_len`` and its ``token.pin_fitted`` event), share sets,
custodians. ``custodian.toml`` holds the rest, and a format 3 bundle carries it too, as the
record ``{"home_config": {...}}`` right after the metadata's start record (docs/backup-format.md,
section 3a). A rebuild then:

* carries the vault's own policy (``CARRIED``: the idle lock, the custodians' passphrase KDF
  profile) into the new home's file (a new home has only what ``home init`` wrote there);
* keeps what describes the new machine and its HSM (module, token, profile and its overrides,
  wrap mechanism, PIN policy, drill token, adoption), which the new home's ``home init`` set,
  and names every such value that differs from the lost home's (``vault.rebuilt`` records both),
  so that a replacement HSM of the same model can be given the same overrides by hand;
* (vault.operations.rebuild) refuses a bundle of the other mode, by its header: a practice
  vault never becomes a production one, nor the reverse.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vault.errors import BundleMismatch
from vault.home import CONFIG_NAME, HomeConfig, load_config

RECORD = "home_config"
#: custodian.toml values that are the vault's own policy: carried to the new home.
CARRIED = ("idle_timeout_seconds", "kdf_profile")
#: Values that describe the machine and its HSM: the new home's stay; differences are named.
HSM_SPECIFIC = ("wrap_mechanism", "profile", "profile_override", "pin_policy", "drill_module", "drill_token")
#: Never compared: paths, references and stamps of the lost machine itself.
_LOCAL = ("module", "token", "practice_conf", "adopt_token", "current_so_pin", "drill_adopt_token",
          "drill_current_so_pin", "created_at", "software_version")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)  # an enum's value


def config_record(config: HomeConfig) -> dict:
    """The record a format 3 bundle's metadata carries after its start record."""
    return {RECORD: {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(HomeConfig)}}


@dataclass(frozen=True, slots=True)
class ConfigCarry:
    carried: dict[str, Any]  # field -> the lost home's value, now in the new home's custodian.toml
    differing: dict[str, tuple[Any, Any]]  # HSM field -> (the lost home's, the new home's, kept)
    config: HomeConfig  # the new home's config with ``carried`` applied

    def details(self) -> dict:
        return {"carried": self.carried, "kept_differing": {k: {"lost_home": a, "this_home": b}
                                                            for k, (a, b) in self.differing.items()}}

    def lines(self) -> list[str]:
        out = [f"carried from the lost home's custodian.toml: {k} = {v!r}" for k, v in self.carried.items()]
        out += [f"kept this home's {k} = {b!r} (the lost home had {a!r}: set it by hand if this HSM is the same "
                "model)" for k, (a, b) in self.differing.items()]
        return out


def plan_carry(lost: Any, current: HomeConfig, bundle: Path) -> ConfigCarry:
    """What the rebuild does with the lost home's config ``lost`` (a record's value) on ``current``."""
    if not isinstance(lost, dict):
        raise BundleMismatch(f"The vault metadata in {bundle} holds a home configuration that is not a table.")
    carried = {k: lost[k] for k in CARRIED if k in lost and lost[k] != getattr(current, k)}
    differing = {k: (lost[k], _plain(getattr(current, k))) for k in HSM_SPECIFIC
                 if k in lost and lost[k] != _plain(getattr(current, k))}
    try:
        config = dataclasses.replace(current, **carried)
    except TypeError:  # pragma: no cover - CARRIED names HomeConfig fields
        raise BundleMismatch(f"The home configuration in {bundle} cannot be carried.") from None
    return ConfigCarry(carried, differing, config)


def write_carried(home_path: Path, carry: ConfigCarry) -> str | None:
    """Replace ``custodian.toml`` with the carried config (checked by loading it first); returns
    the previous text for ``restore_config``, or None when nothing was carried."""
    if not carry.carried:
        return None
    path = Path(home_path) / CONFIG_NAME
    previous = path.read_text(encoding="utf-8")
    tmp = path.with_name(f".{CONFIG_NAME}.rebuild")
    _write(tmp, carry.config.to_toml())
    try:
        load_config(tmp)  # a value the console would refuse is refused here, before anything changes
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return previous


def restore_config(home_path: Path, previous: str | None) -> None:
    if previous is not None:
        tmp = Path(home_path) / f".{CONFIG_NAME}.rebuild"
        _write(tmp, previous)
        os.replace(tmp, Path(home_path) / CONFIG_NAME)


def _write(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
