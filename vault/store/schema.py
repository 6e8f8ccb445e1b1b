"""The database schema as an ordered list of migrations; ``PRAGMA user_version`` = how many ran.

Rules the schema enforces by itself (so that even a bug, or a hand-edit with the sqlite3 shell
that does not drop triggers, cannot break them):

* key states: a CHECK on the state values, and a ``BEFORE UPDATE OF state`` trigger generated
  from ``vault.types.ALLOWED_TRANSITIONS`` that aborts any other change;
* keys are never deleted (destruction keeps the tombstone); key history is append-only;
* the ledger is append-only: UPDATE and DELETE abort;
* at most one active share set;
* foreign keys everywhere (enforced because every connection sets ``PRAGMA foreign_keys=ON``).

Nothing secret has a column: no share, PIN, passphrase, quorum secret or key bytes.

Migrations are append-only too: never edit a released one, add the next.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.cryptoperiods import DEFAULT_DAYS
from vault.types import ALLOWED_TRANSITIONS, KeyAlgorithm, KeyPurpose, KeyState, Mode, RevocationReason, Role

from vault.store.schema_pki import PKI_STATEMENTS
from vault.store.transport import TRANSPORT_STATEMENTS
from vault.store.audit import AUDIT_STATEMENTS
from vault.store.records import (
    BackupDecision,
    CeremonyStatus,
    CustodianStatus,
    DrillResult,
    ShareSetStatus,
    StepStatus,
)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def _in(enum_type) -> str:
    return "(" + ", ".join(f"'{member.value}'" for member in enum_type) + ")"


def _sql_list(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


#: 'from>to' for every allowed transition; the trigger compares against this list.
TRANSITION_PAIRS: tuple[str, ...] = tuple(sorted(f"{a.value}>{b.value}" for a, b in ALLOWED_TRANSITIONS))

STATES = _in(KeyState)

_V1 = (
    f"""CREATE TABLE ceremonies (
        id TEXT PRIMARY KEY,
        definition_name TEXT NOT NULL,
        definition_sha256 TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN {_in(Mode)}),
        status TEXT NOT NULL DEFAULT 'running' CHECK (status IN {_in(CeremonyStatus)}),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        abort_reason TEXT,
        script_driven INTEGER NOT NULL DEFAULT 0 CHECK (script_driven IN (0, 1)),
        ledger_start_seq INTEGER,
        ledger_start_hash TEXT,
        ledger_end_seq INTEGER,
        ledger_end_hash TEXT,
        params TEXT NOT NULL DEFAULT '{{}}',
        CHECK (status <> 'aborted' OR abort_reason IS NOT NULL)
    )""",
    "CREATE INDEX ceremonies_status ON ceremonies(status)",
    f"""CREATE TABLE custodians (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL COLLATE NOCASE UNIQUE,
        role TEXT NOT NULL CHECK (role IN {_in(Role)}),
        public_key_pem TEXT NOT NULL,
        passphrase_verifier TEXT NOT NULL,
        kdf_params TEXT NOT NULL,
        encrypted_signing_key BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN {_in(CustodianStatus)}),
        enrolled_at TEXT NOT NULL,
        retired_at TEXT,
        enrolled_ceremony_id TEXT REFERENCES ceremonies(id),
        retired_ceremony_id TEXT REFERENCES ceremonies(id),
        CHECK ((status = 'retired') = (retired_at IS NOT NULL))
    )""",
    """CREATE TABLE quorum_policies (
        id INTEGER PRIMARY KEY,
        group_threshold INTEGER NOT NULL CHECK (group_threshold >= 1),
        groups TEXT NOT NULL,
        passphrase INTEGER NOT NULL CHECK (passphrase IN (0, 1)),
        iteration_exponent INTEGER NOT NULL CHECK (iteration_exponent BETWEEN 0 AND 15),
        drill_interval_days INTEGER NOT NULL CHECK (drill_interval_days >= 1),
        created_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    f"""CREATE TABLE share_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL COLLATE NOCASE UNIQUE,
        identifier INTEGER NOT NULL CHECK (identifier BETWEEN 0 AND 32767),
        group_threshold INTEGER NOT NULL CHECK (group_threshold >= 1),
        groups TEXT NOT NULL,
        iteration_exponent INTEGER NOT NULL CHECK (iteration_exponent BETWEEN 0 AND 15),
        passphrase INTEGER NOT NULL CHECK (passphrase IN (0, 1)),
        commitment_salt TEXT NOT NULL,
        check_value TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN {_in(ShareSetStatus)}),
        created_at TEXT NOT NULL,
        activated_at TEXT,
        retired_at TEXT,
        ceremony_id TEXT REFERENCES ceremonies(id),
        policy_id INTEGER REFERENCES quorum_policies(id)
    )""",
    "CREATE UNIQUE INDEX share_sets_one_active ON share_sets(status) WHERE status = 'active'",
    """CREATE TABLE share_holders (
        id INTEGER PRIMARY KEY,
        share_set_id INTEGER NOT NULL REFERENCES share_sets(id),
        custodian_id INTEGER NOT NULL REFERENCES custodians(id),
        group_index INTEGER NOT NULL CHECK (group_index BETWEEN 0 AND 15),
        member_index INTEGER NOT NULL CHECK (member_index BETWEEN 0 AND 15),
        commitment TEXT NOT NULL,
        distributed_at TEXT,
        verified_at TEXT,
        last_verified_at TEXT,
        UNIQUE (share_set_id, group_index, member_index)
    )""",
    "CREATE INDEX share_holders_custodian ON share_holders(custodian_id)",
    f"""CREATE TABLE keys (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE,
        cka_id TEXT NOT NULL,
        algorithm TEXT NOT NULL CHECK (algorithm IN {_in(KeyAlgorithm)}),
        state TEXT NOT NULL CHECK (state IN {STATES}),
        version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
        lineage TEXT NOT NULL,
        previous_key_id INTEGER REFERENCES keys(id),
        fingerprint TEXT NOT NULL,
        backup_decision TEXT NOT NULL CHECK (backup_decision IN {_in(BackupDecision)}),
        no_backup_reason TEXT,
        token_serial TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id),
        created_at TEXT NOT NULL,
        pre_activation_at TEXT,
        activated_at TEXT,
        suspended_at TEXT,
        deactivated_at TEXT,
        compromised_at TEXT,
        destroyed_at TEXT,
        destroyed_compromised_at TEXT,
        UNIQUE (lineage, version),
        CHECK ((backup_decision = 'no-backup') = (coalesce(no_backup_reason, '') <> ''))
    )""",
    "CREATE INDEX keys_state ON keys(state)",
    f"""CREATE TRIGGER keys_state_transition BEFORE UPDATE OF state ON keys
        WHEN (OLD.state || '>' || NEW.state) NOT IN {_sql_list(TRANSITION_PAIRS)}
        BEGIN SELECT RAISE(ABORT, 'key state transition not allowed (NIST SP 800-57)'); END""",
    """CREATE TRIGGER keys_no_delete BEFORE DELETE ON keys
        BEGIN SELECT RAISE(ABORT, 'keys are never deleted: destruction keeps the tombstone'); END""",
    f"""CREATE TABLE key_state_history (
        id INTEGER PRIMARY KEY,
        key_id INTEGER NOT NULL REFERENCES keys(id),
        from_state TEXT CHECK (from_state IS NULL OR from_state IN {STATES}),
        to_state TEXT NOT NULL CHECK (to_state IN {STATES}),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id),
        reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX key_state_history_key ON key_state_history(key_id)",
    """CREATE TRIGGER key_state_history_no_update BEFORE UPDATE ON key_state_history
        BEGIN SELECT RAISE(ABORT, 'key state history is append-only'); END""",
    """CREATE TRIGGER key_state_history_no_delete BEFORE DELETE ON key_state_history
        BEGIN SELECT RAISE(ABORT, 'key state history is append-only'); END""",
    """CREATE TABLE backups (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        format_version INTEGER NOT NULL CHECK (format_version >= 1),
        share_set_id INTEGER NOT NULL REFERENCES share_sets(id),
        kek_check_value TEXT NOT NULL,
        key_count INTEGER NOT NULL CHECK (key_count >= 0),
        created_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    "CREATE INDEX backups_sha256 ON backups(sha256)",
    """CREATE TABLE backup_keys (
        backup_id INTEGER NOT NULL REFERENCES backups(id),
        key_id INTEGER NOT NULL REFERENCES keys(id),
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (backup_id, key_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX backup_keys_key ON backup_keys(key_id)",
    f"""CREATE TABLE ceremony_steps (
        id INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies(id),
        step_index INTEGER NOT NULL CHECK (step_index >= 0),
        step_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1 CHECK (attempt >= 1),
        status TEXT NOT NULL CHECK (status IN {_in(StepStatus)}),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        result TEXT,
        error_code TEXT,
        UNIQUE (ceremony_id, step_index, attempt)
    )""",
    """CREATE TABLE attestations (
        id INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies(id),
        custodian_id INTEGER NOT NULL REFERENCES custodians(id),
        statement TEXT NOT NULL,
        signature_hex TEXT NOT NULL,
        agree INTEGER NOT NULL CHECK (agree IN (0, 1)),
        at TEXT NOT NULL,
        step_id TEXT
    )""",
    "CREATE INDEX attestations_ceremony ON attestations(ceremony_id)",
    """CREATE TABLE deviations (
        id INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies(id),
        step_id TEXT,
        expected TEXT NOT NULL,
        happened TEXT NOT NULL,
        action TEXT NOT NULL,
        decided_by TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX deviations_ceremony ON deviations(ceremony_id)",
    f"""CREATE TABLE drills (
        id INTEGER PRIMARY KEY,
        ceremony_id TEXT NOT NULL REFERENCES ceremonies(id),
        backup_id INTEGER NOT NULL REFERENCES backups(id),
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        duration_seconds REAL NOT NULL CHECK (duration_seconds >= 0),
        result TEXT NOT NULL CHECK (result IN {_in(DrillResult)}),
        keys_compared INTEGER NOT NULL CHECK (keys_compared >= 0),
        detail TEXT NOT NULL DEFAULT ''
    )""",
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # The ledger is not tied to other tables by foreign keys: it must stay verifiable on its own,
    # and an event may name a ceremony id that a later restore of the metadata no longer has.
    # Each event is stored as the exact canonical JSON that its hash covers (``body``); the named
    # columns are generated from it, so they can never disagree with what was hashed, and
    # verification reads one text column per event instead of re-encoding seven.
    """CREATE TABLE ledger (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        body TEXT NOT NULL,
        hash TEXT NOT NULL,
        at TEXT GENERATED ALWAYS AS (json_extract(body, '$.at')) VIRTUAL,
        actor TEXT GENERATED ALWAYS AS (json_extract(body, '$.actor')) VIRTUAL,
        ceremony_id TEXT GENERATED ALWAYS AS (json_extract(body, '$.ceremony_id')) VIRTUAL,
        action TEXT GENERATED ALWAYS AS (json_extract(body, '$.action')) VIRTUAL,
        details TEXT GENERATED ALWAYS AS (json_extract(body, '$.details')) VIRTUAL,
        prev_hash TEXT GENERATED ALWAYS AS (json_extract(body, '$.prev_hash')) VIRTUAL
    )""",
    "CREATE INDEX ledger_ceremony ON ledger(ceremony_id)",
    """CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be changed'); END""",
    """CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be deleted'); END""",
)

# Version 2: the ledger table keeps only what is hashed and chained: (seq, body, hash). Its
# named columns move to the view ``ledger_events``, where SQLite derives them from ``body`` when
# they are read; as generated columns SQLite computed all six (json_extract) on every INSERT,
# which was half the cost of an append. Events are still found by ceremony through an index,
# now on the expression ``json_extract(body, '$.ceremony_id')``: derived from the hashed body
# like before, so it can never disagree with it. The table is rebuilt (a copy of its rows):
# ALTER TABLE DROP COLUMN rewrites rows with an UPDATE, which the append-only trigger refuses.
_LEDGER_V2_VIEW_COLUMNS = ", ".join(
    f"json_extract(body, '$.{name}') AS {name}" for name in ("at", "actor", "ceremony_id", "action", "details",
                                                             "prev_hash")
)
LEDGER_CEREMONY_EXPR = "json_extract(body, '$.ceremony_id')"
_V2 = (
    "DROP INDEX ledger_ceremony",
    """CREATE TABLE ledger_v2 (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        body TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "INSERT INTO ledger_v2 (seq, body, hash) SELECT seq, body, hash FROM ledger ORDER BY seq",
    "DROP TABLE ledger",
    "ALTER TABLE ledger_v2 RENAME TO ledger",
    f"CREATE INDEX ledger_ceremony ON ledger({LEDGER_CEREMONY_EXPR})",
    """CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be changed'); END""",
    """CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: events cannot be deleted'); END""",
    f"CREATE VIEW ledger_events AS SELECT seq, {_LEDGER_V2_VIEW_COLUMNS}, hash FROM ledger",
)


def _plus_days(column: str, days: int) -> str:
    """SQL for ``column`` + ``days`` in the store's own time format (microseconds and Z kept)."""
    return f"strftime('%Y-%m-%dT%H:%M:%S', {column}, '+{days:d} days') || substr({column}, 20)"


# Version 4: named, versioned keys. A key's stable name is its lineage; ``key_names`` holds
# what belongs to the name rather than to one version (the minimum decryption version). Each
# version gets a purpose (sign, encrypt, wrap, transport), a planned activation date
# (``activate_after``, for keys generated in pre-activation), the end of its cryptoperiod
# (``cryptoperiod_days`` from activation to ``expires_at``) and, once revoked, a KMIP reason. Existing keys: AES keys were generated
# with ENCRYPT/DECRYPT, so their purpose is encrypt; key pairs only ever signed. Their
# expiry is their activation time plus the SP 800-57 default of their purpose. Token labels
# stay as they are: the console already derived them as name, name-v2, name-v3, ...
_V4 = (
    """CREATE TABLE key_names (
        name TEXT PRIMARY KEY,
        min_decryption_version INTEGER NOT NULL DEFAULT 1 CHECK (min_decryption_version >= 1),
        created_at TEXT NOT NULL,
        ceremony_id TEXT REFERENCES ceremonies(id)
    )""",
    "INSERT INTO key_names (name, min_decryption_version, created_at, ceremony_id) "
    "SELECT lineage, 1, min(created_at), NULL FROM keys GROUP BY lineage",
    f"ALTER TABLE keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'sign' CHECK (purpose IN {_in(KeyPurpose)})",
    "UPDATE keys SET purpose = 'encrypt' WHERE algorithm = 'aes-256'",
    "ALTER TABLE keys ADD COLUMN activate_after TEXT",
    "ALTER TABLE keys ADD COLUMN cryptoperiod_days INTEGER CHECK (cryptoperiod_days IS NULL OR cryptoperiod_days >= 1)",
    "ALTER TABLE keys ADD COLUMN expires_at TEXT",
    f"ALTER TABLE keys ADD COLUMN revocation_reason TEXT "
    f"CHECK (revocation_reason IS NULL OR revocation_reason IN {_in(RevocationReason)})",
    *(
        f"UPDATE keys SET cryptoperiod_days = {days:d}, expires_at = CASE WHEN activated_at IS NULL THEN NULL "
        f"ELSE {_plus_days('activated_at', days)} END WHERE purpose = '{purpose.value}'"
        for purpose, days in DEFAULT_DAYS.items()
    ),
    """CREATE TRIGGER keys_named BEFORE INSERT ON keys
        WHEN NOT EXISTS (SELECT 1 FROM key_names WHERE name = NEW.lineage)
        BEGIN SELECT RAISE(ABORT, 'a key version needs its name in key_names'); END""",
    """CREATE TRIGGER keys_purpose_fixed BEFORE UPDATE OF purpose, lineage, version, algorithm ON keys
        BEGIN SELECT RAISE(ABORT, 'a key keeps its name, version, algorithm and purpose'); END""",
    """CREATE TRIGGER key_names_min_decryption_only_up BEFORE UPDATE OF min_decryption_version ON key_names
        WHEN NEW.min_decryption_version < OLD.min_decryption_version
        BEGIN SELECT RAISE(ABORT, 'the minimum decryption version only goes up'); END""",
    """CREATE TRIGGER key_names_no_delete BEFORE DELETE ON key_names
        BEGIN SELECT RAISE(ABORT, 'key names are never deleted'); END""",
)

#: Every migration, in order. ``MIGRATIONS[i].version == i + 1``.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _V1),
    Migration(2, "ledger: named columns in a view, not generated on every append", _V2),
    Migration(3, "certificate store: serials, certificates, revocations, CRLs", PKI_STATEMENTS),
    Migration(4, "named, versioned keys: key_names, purpose, activation and expiry dates, revocation reason", _V4),
    Migration(5, "key transport: pinned peer vaults, import requests, imported keys", TRANSPORT_STATEMENTS),
    Migration(6, "ledger audit keys and the end heads they signed in the HSM", AUDIT_STATEMENTS),
)

LATEST_VERSION = len(MIGRATIONS)
