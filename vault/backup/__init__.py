"""Backup bundles: the versioned file format (``format``) and write-once output (``outfile``).

Restore and the ceremony steps that drive the HSM live elsewhere; this package is pure data and
crypto so the format can be checked, and a key recovered, without an HSM.
"""

from vault.backup.format import (
    FORMAT_VERSION,
    MAGIC,
    BundleContents,
    BundleHeader,
    BundleReport,
    BundleWriter,
    BundleWritten,
    KeyEntry,
    KeySummary,
    VerifiedEntries,
    inspect_bundle,
    iter_verified_entries,
    kek_check_value,
    verify_bundle,
    write_bundle,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "BundleContents",
    "BundleHeader",
    "BundleReport",
    "BundleWriter",
    "BundleWritten",
    "KeyEntry",
    "KeySummary",
    "VerifiedEntries",
    "inspect_bundle",
    "iter_verified_entries",
    "kek_check_value",
    "verify_bundle",
    "write_bundle",
]
