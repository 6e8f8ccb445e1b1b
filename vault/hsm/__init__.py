"""vault.hsm: the only part of the vault that talks PKCS#11 (python-pkcs11).

Public API (see docs/architecture.md):

* :class:`HsmModule` (load a module, find/initialise tokens, open sessions, wipe practice scratch
  tokens) and :func:`write_practice_conf`;
* :class:`HsmSession` (probe, list/generate/sign/wrap/unwrap/destroy keys);
* values :class:`TokenInfo` (with :class:`PinTries`), :class:`KeyObject`, :class:`Capabilities`,
  :class:`WrapMechanism`, :class:`WrappingKey`;
* software-only helpers :func:`verify_signature` and :func:`unwrap_offline` (break-glass).

Modules: ``errors`` (the PKCS#11 -> vault error table), ``templates`` (attribute templates),
``software`` (pure ``cryptography``), ``uri`` (RFC 7512), ``model`` (values), ``module``
(loading, tokens, sessions), ``session`` (the HsmSession facade), and one module per concern
behind it: ``objects``, ``generation``, ``signing``, ``wrap``, ``unwrap``, ``restored``,
``probe``; ``bulk`` (one-pass token walks and wraps through ctypes, compact handle index);
``practice_token`` (the practice token: the only module-specific code).
"""

from vault.hsm.model import (
    AlgorithmCapability,
    Capabilities,
    KeyObject,
    PinTries,
    TokenInfo,
    WrapMechanism,
    WrappingKey,
)
from vault.hsm.module import HSM_LOCK, HsmModule
from vault.hsm.practice_token import PRACTICE_MODULE, write_practice_conf
from vault.hsm.session import HsmSession
from vault.hsm.software import unwrap_offline, verify_signature
from vault.hsm.uri import TokenUri, TokenUriInvalid, parse_token_uri

__all__ = [
    "HSM_LOCK",
    "PRACTICE_MODULE",
    "AlgorithmCapability",
    "Capabilities",
    "HsmModule",
    "HsmSession",
    "KeyObject",
    "PinTries",
    "TokenInfo",
    "TokenUri",
    "TokenUriInvalid",
    "WrapMechanism",
    "WrappingKey",
    "parse_token_uri",
    "unwrap_offline",
    "verify_signature",
    "write_practice_conf",
]
