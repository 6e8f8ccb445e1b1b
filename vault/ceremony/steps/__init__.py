"""The built-in step kinds; importing this package registers them (vault.ceremony.kinds)."""

from vault.ceremony.steps import attest, basic, envelope, keys, lifecycle, people, pki, quorum, resolve, transport  # noqa: F401
from vault.ceremony.steps import asks  # noqa: F401,E402  (their questions, for script checks; after the kinds)
