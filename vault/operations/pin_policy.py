"""``[hsm] pin_policy``: who authenticates to the vault's token.

* ``"quorum"`` (the default): the SO and user PINs derive from the quorum secret
  (vault.shares.derive), fitted to the token's limit; init takes the token's PINs over.
* ``"hsm"``: authentication is left to the HSM, through its own PIN entry device (PED, PIN pad):
  the token must report CKF_PROTECTED_AUTHENTICATION_PATH in C_GetTokenInfo, and C_Login goes
  with a NULL PIN. A token without the flag is refused with a one-line message naming it (that
  much is tested on the practice token's module and on opencryptoki: neither has the flag). No
  module here reports the flag, so the login and init path of a PED has never run: a ceremony on
  a token that does report it is refused too, saying so, rather than running untested code.

A practice home always uses the quorum's PINs (vault.home refuses ``"hsm"`` there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.errors import PinPolicyRefused

if TYPE_CHECKING:
    from vault.vault import Vault

POLICIES = ("quorum", "hsm")


def refusal(vault: Vault, info, *, what: str = "use") -> PinPolicyRefused | None:
    """Why this home cannot ``what`` the token ``info`` (a TokenInfo, or None when there is none)
    under its pin_policy; None for the default policy."""
    if vault.home.config.pin_policy != "hsm":
        return None
    if info is None or not info.protected_authentication_path:
        name = info.name_for_messages() if info is not None else "no token (no free slot)"
        return PinPolicyRefused(
            f'{vault.home.config_path.name} sets [hsm] pin_policy = "hsm", but {name} does not report '
            "CKF_PROTECTED_AUTHENTICATION_PATH (it has no PIN entry device).",
            next_step="Remove pin_policy (the PINs then derive from the quorum), or connect the HSM whose PIN "
                      "entry device `custodian doctor` shows.",
        )  # fmt: skip
    return PinPolicyRefused(
        f"Token {info.describe()} reports a protected authentication path, but the console cannot yet {what} a token "
        'through its PIN entry device (pin_policy = "hsm": C_Login with a NULL PIN has not been tested on any HSM).',
        next_step="Remove pin_policy to use PINs derived from the quorum, entered by the console.",
    )  # fmt: skip


def require_pin_policy(vault: Vault, info, *, what: str = "use") -> None:
    """Raise :func:`refusal`'s PinPolicyRefused, if any, before the token is touched."""
    error = refusal(vault, info, what=what)
    if error is not None:
        raise error
