"""The practice token: everything the console knows about SoftHSM2, and nothing else does.

A practice home keeps its own SoftHSM token directory under the home and a private SoftHSM
configuration that points at it (``SOFTHSM2_CONF``, read at C_Initialize). Everything SoftHSM
is named here and only here (tests/test_layering.py greps the rest of vault/ and console/):
the module path (:data:`PRACTICE_MODULE`), the conf's file name (:data:`PRACTICE_CONF_NAME`),
the conf's ``custodian.toml`` key of older homes (:data:`LEGACY_CONF_KEY`). Drills in a
practice home create scratch tokens there and wipe them afterwards; only tokens under a
configuration this process wrote may be wiped. Production paths never come here: they ask
the token (vault.hsm.module, vault.hsm.probe) and read vendor facts from the HSM profiles
(vault/hsm/profiles/).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pkcs11

from vault.errors import ConfigError, HsmError, ModuleLoadError
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.hsm.module import HsmModule

#: Debian's SoftHSM2 module (package softhsm2); the practice home's module.
PRACTICE_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
#: The practice conf's file name in the home (SoftHSM's own name for its conf).
PRACTICE_CONF_NAME = "softhsm2.conf"
#: The ``[hsm]`` key that named the practice conf in homes made before ``practice_conf``
#: (read for existing practice homes only; vault.home refuses it next to the new key).
LEGACY_CONF_KEY = "softhsm_conf"
#: Practice confs written by :func:`write_practice_conf` in this process (the only wipeable ones).
OWN_CONFS: set[Path] = set()


def write_practice_conf(home_dir: Path) -> Path:
    """Write a private SoftHSM conf under ``home_dir`` and create ``home_dir/tokens``.

    File backend (the only one Debian builds), errors-only logging, non-removable slots.
    Only tokens under a conf written here may be wiped by :func:`wipe_token`.
    """
    home = Path(home_dir).resolve()
    tokens = home / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = home / PRACTICE_CONF_NAME
    text = (
        f"# Written by the custodian console (vault.hsm.write_practice_conf).\n"
        f"directories.tokendir = {tokens}\n"
        f"objectstore.backend = file\n"
        f"log.level = ERROR\n"
        f"slots.removable = false\n"
    )
    tmp = conf.with_name(conf.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, conf)
    OWN_CONFS.add(conf)
    return conf


def practice_tokendir(conf: Path) -> Path:
    """The ``directories.tokendir`` of a SoftHSM conf."""
    for line in Path(conf).read_text().splitlines():
        key, eq, value = line.partition("=")
        if eq and key.strip() == "directories.tokendir":
            return Path(value.strip())
    raise ConfigError(f"The SoftHSM conf {conf} has no directories.tokendir line.")


def checked_conf(conf: Path) -> Path:
    """``conf`` resolved, refused (ModuleLoadError) unless it and its token directory exist."""
    resolved = Path(conf).resolve()
    if not resolved.is_file():
        raise ModuleLoadError(f"The SoftHSM conf {resolved} does not exist.")
    if not practice_tokendir(resolved).is_dir():
        raise ModuleLoadError(f"The token directory named in {resolved} does not exist.")
    return resolved


def point_at(conf: Path) -> None:
    """Make the next C_Initialize of SoftHSM read ``conf``."""
    os.environ["SOFTHSM2_CONF"] = str(conf)


def wipe_token(module: HsmModule, selector: Any, user_pin: Secret | None) -> None:
    """Destroy a drill's scratch token: every object, then the token itself.

    Only for SoftHSM tokens under a conf that this process wrote (write_practice_conf);
    anything else is refused. With ``user_pin`` private objects are destroyed one by one
    first (without it only public objects are visible); then the token's directory
    (found under the conf's tokendir by serial) is removed and the library re-initialised
    so that the slot list is fresh. No session may be open on the module (re-initialising
    closes them all); ``module`` stays valid, other handles of the same library go stale.
    Called with HSM_LOCK held (HsmModule.wipe_practice_token).
    """
    from vault.hsm.module import _reinitialise

    library = module._library
    conf = library.conf
    if conf is None or conf not in OWN_CONFS:
        raise HsmError(
            "Only SoftHSM scratch tokens under a conf this process wrote can be wiped.",
            next_step="Wipe production tokens through the destroy ceremony, key by key.",
        )
    if library.sessions:
        raise HsmError(
            "Sessions are open on this module; wiping re-initialises the library.",
            next_step="Close every session first.",
        )
    token, info = module._select(selector)
    token_dir = _token_dir(practice_tokendir(conf), info.serial)
    pin = user_pin.reveal_text() if user_pin is not None else None
    try:
        session = token.open(rw=True, user_pin=pin)
    except pkcs11.PKCS11Error:
        module._reap(token.slot.slot_id)
        raise
    try:
        for obj in list(session.get_objects()):
            obj.destroy()
        remaining = sum(1 for _ in session.get_objects()) if pin is not None else 0
    finally:
        session.close()
    if remaining:
        raise HsmError(f"{remaining} objects survived destruction on token {info.describe()}.")
    shutil.rmtree(token_dir)
    _reinitialise(library, conf)
    module._generation = library.generation


def _token_dir(tokendir: Path, serial: str) -> Path:
    """The directory of the SoftHSM token with ``serial`` (its token.object holds the serial)."""
    needle = serial.encode("ascii")
    hits = [
        d
        for d in tokendir.iterdir()
        if (d / "token.object").is_file() and needle in (d / "token.object").read_bytes()
    ]
    if len(hits) != 1:
        raise HsmError(f"Found {len(hits)} token directories for serial {serial} under {tokendir}; expected one.")
    return hits[0]
