"""A token "initialised by the HSM vendor's procedure", for ``pin_policy = "hsm-procedure"`` tests.

``vendor_softhsm(root, monkeypatch)`` gives the practice module's library copied under a vendor's
name (``libvendor-hsm.so``) with its own token directory and conf, which the console never wrote:
for the console it is a production module like any other. ``vendor_procedure(module_path)`` is the
vendor's tools: it initialises a token with the vendor's own SO and user PINs (on opencryptoki,
give its factory SO PIN). ``procedure_home`` makes the production home that adopts it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from vault.secret import Secret

AIRGAP = "test machine: the air gap is simulated"
VENDOR_SO_PIN = "31415926"  # the vendor procedure's PINs (8 characters: opencryptoki takes 4..8)
VENDOR_USER_PIN = "27182818"
LABEL = "vendor-partition"


def vendor_softhsm(root: Path, monkeypatch) -> str:
    """The vendor's module path (skips where the practice module is not installed)."""
    import pytest

    from vault.hsm import PRACTICE_MODULE

    if not os.path.exists(PRACTICE_MODULE):
        pytest.skip("the practice PKCS#11 module is not installed (apt-get install softhsm2)")
    lib = root / "vendor" / "libvendor-hsm.so"
    lib.parent.mkdir(parents=True)
    shutil.copy(os.path.realpath(PRACTICE_MODULE), lib)
    (root / "vendor" / "tokens").mkdir()
    conf = root / "vendor" / "vendor.conf"
    conf.write_text(f"directories.tokendir = {root / 'vendor' / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    return str(lib)


def unload(module_path: str) -> None:
    from vault.hsm import HsmModule

    HsmModule.load(module_path).close()


def vendor_procedure(module_path: str, *, factory_so_pin: str | None = None) -> str:
    """The vendor's tools: initialise the token with the vendor's own SO and user PINs; its serial."""
    from vault.hsm import HsmModule

    module = HsmModule.load(module_path)
    free = next(t for t in module.slots() if not t.initialised)
    current = Secret(factory_so_pin, "so-pin") if factory_so_pin else None
    target = f"pkcs11:serial={free.serial}" if factory_so_pin else None
    with Secret(VENDOR_SO_PIN, "so-pin") as so, Secret(VENDOR_USER_PIN, "user-pin") as user:
        info = module.init_token(LABEL, so, user, current_so_pin=current, target=target)
    return info.serial


def procedure_home(home: Path, module_path: str, *, trusted_wrapping: str | None = None) -> None:
    """A production home with ``[hsm] pin_policy = "hsm-procedure"`` on the vendor's token."""
    from vault.home import CONFIG_NAME, create_production_home

    create_production_home(home, module_path, LABEL, pin_policy="hsm-procedure")
    if trusted_wrapping is not None:  # the operator's explicit, documented choice (docs/hsm-support.md)
        with open(home / CONFIG_NAME, "a") as f:
            f.write(f'\n[hsm.profile_override]\ntrusted_wrapping = "{trusted_wrapping}"\n')
