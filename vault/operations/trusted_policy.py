"""Whether a token's sessions use trusted wrapping (vault.hsm.trusted): the token's HSM profile decides.

Trusted wrapping is on where the profile (vault/hsm/profiles, overridable in custodian.toml)
says the SO can make a trusted KEK safely (``trusted_wrapping = "safe"``); then backed-up keys
are generated and restored with CKA_WRAP_WITH_TRUSTED and every backup and transport needs the
quorum's SO PIN as well as the user PIN. Elsewhere (``unsafe`` or ``unknown``) keys are made as
before and `custodian doctor` warns that anyone with the user PIN can wrap a backed-up key under
a key of their own (the residual risk docs/security-model.md explains).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vault.vault import Vault


def trusted_wrapping(vault: Vault, token) -> bool:
    """True where the token's profile makes trusted wrapping safe."""
    return profile_verdict(vault, token) == "safe"


def profile_verdict(vault: Vault, token) -> str:
    """The profile's ``trusted_wrapping``: "safe", "unsafe" or "unknown"."""
    from vault.hsm.profile import profile_for

    config = vault.home.config
    return profile_for(token, name=config.profile, overrides=dict(config.profile_override)).trusted_wrapping


def doctor_findings(vault: Vault, token) -> list[tuple[str, str, str, str]]:
    """(severity, area, message, next step) for `custodian doctor`: trusted wrapping, said plainly."""
    verdict = profile_verdict(vault, token)
    if verdict == "safe":
        return [("ok", "trusted wrapping", "backed-up keys carry CKA_WRAP_WITH_TRUSTED: only a KEK the security "
                 "officer made trusted (the quorum's SO PIN) can wrap them; the user PIN alone cannot", "")]
    why = ("the token's HSM profile says a trusted KEK cannot be made safely here" if verdict == "unsafe" else
           "the token's HSM profile does not say whether a trusted KEK can be made safely here")
    return [("warning", "trusted wrapping",
             f"{why}, so backed-up keys are not marked CKA_WRAP_WITH_TRUSTED: anyone with the user PIN can wrap "
             "one under a key of their own, outside any ceremony and without a ledger event",
             "Keep the user PIN quorum-derived and out of every script; docs/security-model.md (trusted wrapping) says "
             "how to measure the token before a profile override says \"safe\".")]
