"""The built-in step kinds; importing this package registers them (vault.ceremony.kinds)."""

from vault.ceremony.steps import attest, basic, keys, people, pki, quorum  # noqa: F401
