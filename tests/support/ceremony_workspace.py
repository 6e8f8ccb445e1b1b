"""A practice workspace for replaying the example ceremony scripts (ceremonies/examples/).

``Workspace(root, monkeypatch)`` copies the examples into ``root`` (their relative paths —
``shares/``, ``media/``, ``payload.txt`` — then point inside it), sets the practice
passphrases in the environment (the scripts only reference them), and keeps the console home
in ``root/home``. Every ``run`` opens the home afresh and closes it again, as separate
``custodian ceremony run`` processes would.

Also here: ``script_text`` (write a variant of an example with other answers), ``token_keys``
(log in with the PIN derived from share files, the way no console code does, and list what the
token holds), ``lose_token`` (the HSM dies: its token directory is moved away) and ``Snapshot``
(everything a failed ceremony must leave unchanged).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from shamir_mnemonic import combine_mnemonics

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "ceremonies" / "examples"
PEOPLE = ("admin", "wendy", "alice", "bob", "carol", "dave", "erin")
ORDER = ("init", "generate-key", "sign", "backup", "drill", "rotate", "compromise", "destroy", "reshare", "restore")
# The lifecycle examples replay in their own order after init and generate-key
# (tests/ceremony/test_lifecycle_ceremonies.py).
# The envelope examples replay after init, generate-key, plan-key and activate
# (tests/ceremony/test_envelope_ceremonies.py); rotate-dek-2027.toml is a rotate script.
ENVELOPE_ORDER = ("encrypt", "rotate-dek-2027", "decrypt", "rewrap", "min-decryption-version")
# The transport examples run on two workspaces (tests/ceremony/test_transport_ceremonies.py).
TRANSPORT_CEREMONIES = ("pin-vault", "transport-request", "transport", "import")
# Reviewed step kinds whose review-before-action is checked in their own chains' tests
# (test_lifecycle_ceremonies, test_envelope_ceremonies, test_transport_ceremonies, test_pki_review).
OWN_CHAIN_REVIEWED_KINDS = frozenset({"plan-key", "activate-key", "deactivate-key", "revoke-key",
                                      "min-decryption-version", "pin-peer", "import-request", "transport-key",
                                      "import-key", "root-certificate", "sign-csr", "cross-certificate",
                                      "key-certificate", "crl", "sign-csr-batch"})
LIFECYCLE_ORDER = ("init", "generate-key", "plan-key", "activate", "suspend", "reactivate", "deactivate", "revoke")
#: The PKI ceremonies' examples, in the order they replay after init (tests/ceremony/test_pki_lifecycle.py).
#: Ceremonies run only to recover from a crash (their examples replay in tests/ceremony/test_crash_sweep.py).
RECOVERY_ONLY = ("reconcile",)
PKI_ORDER = ("root-ca", "root-ca-existing", "intermediate", "cross-sign", "crl", "ocsp-signer", "issue-batch")
# What a failed ceremony may add: its own bookkeeping, nothing about the vault's state.
BOOKKEEPING = frozenset({"ceremony.started", "environment.checked", "quorum.activated", "ceremony.aborted",
                         # the witness's evidence: authenticated, reviews confirmed or withdrawn, sign-offs
                         "witness.authenticated", "review.confirmed", "review.withdrawn", "ceremony.witnessed",
                         # the ledger audit key signs the aborted end (made first on a home without one)
                         "ledger.audit_key_created"})
JOURNAL_TABLES = frozenset({"ceremonies", "ceremony_steps", "attestations", "deviations", "ledger", "head_signatures",
                            "audit_keys"})


def passphrase(person: str) -> str:
    """Practice passphrases (public on purpose, like console/practice.py's)."""
    return f"practice-{person}-passphrase"


# --- a tiny TOML writer for the script subset -------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value).__name__)


def script_text(data: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for table in ("defaults", "passphrases", "answers"):
        if table in data:
            lines += ["", f"[{table}]"] + [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in data[table].items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, list[tuple]]
    ledger_seq: int
    token: tuple
    files: dict[str, str]


class Workspace:
    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = Path(root)
        shutil.copytree(EXAMPLES, self.root, dirs_exist_ok=True)
        self.home = self.root / "home"
        for person in PEOPLE:
            monkeypatch.setenv(f"PASSPHRASE_{person.upper()}", passphrase(person))
        self._variants = 0
        self.slip39_passphrase = b""  # set when the share set was made with one

    # -- scripts and runs ---------------------------------------------------------------------------
    def example(self, name: str) -> dict:
        return tomllib.loads((self.root / f"{name}.toml").read_text())

    def variant(self, name: str, *, answers: dict | None = None, drop: tuple[str, ...] = (), **top: Any) -> Path:
        """A copy of example ``name`` with answers replaced/added/dropped; returns its path."""
        data = self.example(name)
        data.update(top)
        data["answers"] = {k: v for k, v in {**data.get("answers", {}), **(answers or {})}.items() if k not in drop}
        self._variants += 1
        path = self.root / f"{name}-variant-{self._variants}.toml"
        path.write_text(script_text(data))
        return path

    @contextmanager
    def vault(self) -> Iterator[Any]:
        from vault.vault import Vault

        vault = Vault.open(self.home)
        try:
            yield vault
        finally:
            vault.close()

    def run(self, name: str, script: Path | None = None, **kwargs: Any):
        from vault.ceremony.script import run_script

        kwargs.setdefault("kdf_profile", "fast-for-tests")
        with self.vault() as vault:
            return run_script(vault, script or self.root / f"{name}.toml", **kwargs)

    def run_ok(self, name: str, script: Path | None = None, **kwargs: Any):
        result = self.run(name, script, **kwargs)
        assert result.ok, result.one_line()
        return result

    def replay(self, upto: str) -> dict[str, Any]:
        """Run the examples in ORDER up to and including ``upto`` (the token is lost before restore)."""
        results = {}
        for name in ORDER[: ORDER.index(upto) + 1]:
            if name == "restore":
                self.lose_token()
            results[name] = self.run_ok(name)
        return results

    # -- shares, the token ----------------------------------------------------------------------------
    def shares(self, directory: str = "shares") -> dict[str, str]:
        return {p.stem: p.read_text().strip() for p in sorted((self.root / directory).glob("*.share"))}

    def quorum_secret(self, directory: str = "shares", names: tuple[str, ...] | None = None) -> bytes:
        from shamir_mnemonic.share import Share

        shares = self.shares(directory)
        chosen = [shares[n] for n in (names or tuple(shares))]
        if names is None:  # a minimal quorum (single-group sets): the first m shares
            chosen = chosen[: Share.from_mnemonic(chosen[0]).member_threshold]
        return combine_mnemonics(chosen, passphrase=self.slip39_passphrase)

    def token_keys(self, directory: str = "shares", vault=None) -> tuple:
        """(label, CKA_ID, fingerprint) of every key on the vault's token, logged in with the user PIN
        derived (vault.shares, documented labels) from the share files in ``directory``."""
        from vault.secret import Secret
        from vault.shares import derive_user_pin

        with derive_user_pin(Secret(self.quorum_secret(directory))) as pin:
            if vault is None:
                with self.vault() as v:
                    with v.hsm().open_session(v.token, pin) as session:
                        return tuple(sorted((k.label, k.key_id, k.fingerprint) for k in session.list_keys()))
            with vault.hsm().open_session(vault.token, pin) as session:
                return tuple(sorted((k.label, k.key_id, k.fingerprint) for k in session.list_keys()))

    def token_serial(self) -> str:
        with self.vault() as v:
            return v.hsm().find_token(v.token).serial

    def lose_token(self) -> Path:
        """The HSM fails: its token directory is moved out of the SoftHSM token dir."""
        from vault.hsm.practice_token import _token_dir as _softhsm_token_dir

        with self.vault() as v:
            serial = v.hsm().find_token(v.token).serial
            v.hsm().close()
        lost = self.root / "lost-tokens" / serial
        lost.parent.mkdir(exist_ok=True)
        shutil.move(str(_softhsm_token_dir(self.home / "tokens", serial)), str(lost))
        return lost

    # -- state snapshots ---------------------------------------------------------------------------------
    def db_rows(self, *, skip: frozenset[str] = JOURNAL_TABLES) -> dict[str, list[tuple]]:
        conn = sqlite3.connect(f"file:{self.home / 'custodian.db'}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            return {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names
                    if n not in skip and not n.startswith("sqlite_")}
        finally:
            conn.close()

    def files(self) -> dict[str, str]:
        """sha256 of every file in the workspace outside the home (bundles, shares, signatures)."""
        out = {}
        for p in sorted(self.root.rglob("*")):
            if p.is_file() and self.home not in p.parents and "lost-tokens" not in p.parts and p.suffix != ".toml":
                out[str(p.relative_to(self.root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out

    def snapshot(self, shares_dir: str = "shares") -> Snapshot:
        with self.vault() as v:
            seq = v.ledger.head().seq
        return Snapshot(self.db_rows(), seq, self.token_keys(shares_dir), self.files())

    def assert_unchanged(self, before: Snapshot, ceremony_id: str, shares_dir: str = "shares") -> list[str]:
        """Vault state as in ``before``; the ledger only gained the failed ceremony's bookkeeping.
        Returns the actions it gained."""
        after = self.snapshot(shares_dir)
        for table, rows in before.tables.items():
            assert after.tables[table] == rows, f"table {table} changed"
        assert after.token == before.token, "the token's objects changed"
        assert after.files == before.files, "files in the workspace changed"
        with self.vault() as v:
            assert v.ledger.verify().ok
            added = [e for e in v.ledger.events(before.ledger_seq + 1)]
            assert {e.ceremony_id for e in added} <= {ceremony_id}
            actions = [e.action for e in added]
            assert set(actions) <= BOOKKEEPING, actions
            assert v.store.get_ceremony(ceremony_id).status.value == "aborted"
        return actions


REVIEWED_ACTIONS = frozenset({"key.generated", "key.activated", "key.deactivated", "key.revoked",
                              "key.min_decryption_version", "peer.pinned", "transport.requested", "key.transported",
                              "key.imported", "key.destroyed"})


def assert_reviewed_first(vault, actions=REVIEWED_ACTIONS) -> int:
    """Every event of ``actions`` a ceremony wrote comes after a ``review.confirmed`` of that
    ceremony (and after no other such action since that review). Returns how many were checked."""
    checked, reviewed = 0, {}
    for e in vault.ledger.events():
        if e.ceremony_id is None:
            continue
        if e.action == "review.confirmed":
            reviewed[e.ceremony_id] = True
        elif e.action in actions:
            assert reviewed.pop(e.ceremony_id, False), f"{e.action} (#{e.seq}) was not reviewed first"
            checked += 1
    return checked
