"""The practice drill's scratch token: a new token in the practice home's own module, wiped after.

Only practice homes come here (vault.operations.drill_place chooses); a production home never
loads or configures the practice token's module. The scratch token gets random PINs held only in memory; every
blob is unwrapped as a session object, checked and destroyed; the token is wiped whatever
happens. Wiping re-initialises the practice module, so no session may be open on the vault's
module while a practice drill runs (close the ceremony's token session first).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vault import hsm
from vault.errors import ConfigError
from vault.operations.quorum import ActiveQuorum, wrap_mechanism
from vault.secret import Secret

if TYPE_CHECKING:
    from vault.vault import Vault


def unwrap_in_scratch_token(vault: Vault, quorum: ActiveQuorum, verified):
    """(keys checked, where) after unwrapping every entry in a fresh scratch token of the practice module."""
    from vault.operations.drill_place import DrillPlace, DrillWhere, _check_in

    if not vault.home.is_practice:  # defence in depth: drill_place never sends a production home here
        raise ConfigError("A production home never drills in a software scratch token.",
                          next_step="Configure a [drill] token, or drill inside the production HSM (the default).")
    module = vault.hsm()
    # wipe_practice_token only wipes under a conf vault.hsm wrote in this process; the practice
    # conf was written by vault.home with the same settings: (re)write it here.
    hsm.write_practice_conf(vault.home.path)
    label = f"drill-{os.urandom(4).hex()}"
    so_pin, user_pin = Secret(os.urandom(16).hex(), "so-pin"), Secret(os.urandom(16).hex(), "user-pin")
    info = module.init_token(label, so_pin, user_pin)
    try:
        with module.open_session(info, user_pin, wrap_mechanism=wrap_mechanism(vault)) as session:
            where = DrillWhere(DrillPlace.PRACTICE_SCRATCH, module.module_path, info.label, info.serial)
            return _check_in(session, quorum, verified), where
    finally:
        try:
            module.wipe_practice_token(info, user_pin=user_pin)
        finally:
            so_pin.wipe()
            user_pin.wipe()
