"""The quorum: SLIP-39 shares of the quorum secret, share collection, and derivations.

Only shamir-mnemonic's public API is used. Shares, the quorum secret and passphrases travel as
``vault.secret.Secret``; what is safe to store about a share set is ``ShareSetPublic``.
"""

from vault.shares.collector import ShareCollector
from vault.shares.derive import (
    check_value,
    derive_backup_kek,
    derive_backup_metadata_key,
    derive_bundle_mac_key,
    derive_so_pin,
    derive_user_pin,
    new_quorum_secret,
)
from vault.shares.distribution import check_quiz, quiz_positions, verify_share_back
from vault.shares.model import (
    SHARE_WORDS,
    GroupProgress,
    KnownShareSet,
    Progress,
    ShareRef,
    ShareSetPublic,
    SplitResult,
)
from vault.shares.policy import GroupSpec, QuorumPolicy
from vault.shares.split import split
from vault.shares.words import identifying_words, normalise_words

__all__ = [
    "SHARE_WORDS",
    "GroupProgress",
    "GroupSpec",
    "KnownShareSet",
    "Progress",
    "QuorumPolicy",
    "ShareCollector",
    "ShareRef",
    "ShareSetPublic",
    "SplitResult",
    "check_quiz",
    "check_value",
    "derive_backup_kek",
    "derive_backup_metadata_key",
    "derive_bundle_mac_key",
    "derive_so_pin",
    "derive_user_pin",
    "identifying_words",
    "new_quorum_secret",
    "normalise_words",
    "quiz_positions",
    "split",
    "verify_share_back",
]
