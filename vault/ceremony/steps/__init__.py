"""The built-in step kinds; importing this package registers them (vault.ceremony.kinds)."""

from vault.ceremony.steps import attest, basic, keys, lifecycle, people, quorum  # noqa: F401
