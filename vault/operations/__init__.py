"""UI-free ceremony operations over an open ``Vault``.

Each operation checks everything it can before touching the HSM, writes its rows and ledger
events in one transaction, returns a frozen result, and on failure leaves nothing
half-applied (objects it created are destroyed, files it published are removed). The
ceremony step kinds call these; the CLI and tests may call them directly.
"""

from vault.operations.backup import BackupCheck, BackupResult, keys_to_back_up, verify_backup, write_backup
from vault.operations.drill import DrillResult, DrillSchedule, next_drill_due, run_drill
from vault.operations.keys import (
    DestructionRecord,
    change_key_state,
    compromise_key,
    destroy_key,
    generate_key,
    preflight_generate,
    rotate_key,
)
from vault.operations.quorum import ActiveQuorum, activate, new_quorum_secret, open_token_session
from vault.operations.reconcile import ReconcileReport, reconcile
from vault.operations.reshare import ReshareResult, rebackup_all, reshare, retire_share_set
from vault.operations.restore import RestoreResult, restore_backup
from vault.operations.signing import SignResult, sign_payload, verify_payload
from vault.operations.token import initialise_token

__all__ = [
    "ActiveQuorum",
    "BackupCheck",
    "BackupResult",
    "DestructionRecord",
    "DrillResult",
    "DrillSchedule",
    "ReconcileReport",
    "ReshareResult",
    "RestoreResult",
    "SignResult",
    "activate",
    "change_key_state",
    "compromise_key",
    "destroy_key",
    "generate_key",
    "initialise_token",
    "keys_to_back_up",
    "next_drill_due",
    "new_quorum_secret",
    "open_token_session",
    "preflight_generate",
    "rebackup_all",
    "reconcile",
    "reshare",
    "restore_backup",
    "retire_share_set",
    "rotate_key",
    "run_drill",
    "sign_payload",
    "verify_backup",
    "verify_payload",
]
