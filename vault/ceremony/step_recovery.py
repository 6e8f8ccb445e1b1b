"""What an abort undoes, for every step kind that leaves something behind (ceremonies/README.md,
"Recovery after a crash", is the table users read; this module is that table in code).

``undo_on_abort(vault, ceremony_id, crashed=...)`` runs when a ceremony is aborted: in process
by the engine (``crashed=False``: the failing operation already cleaned up after itself) and by
``ceremony abort`` after a crash (``crashed=True``). It removes or withdraws what the ceremony
wrote outside its own journal and ledger events, and returns one line per thing undone; each
is also a ledger event. Nothing here needs the quorum; what does (an orphan on the token) is
left to the reconcile ceremony, with the crashed step's intent kept so the orphan can be adopted.

* bundles the ceremony recorded (a ``backups`` row with its id): the row and its key list are
  withdrawn and the file removed (if it is still the recorded bytes) — except when a drill
  refers to the row, or the ceremony switched the share set (reshare: that bundle is the only one
  under the new KEK), which the docs say and the ledger records as kept;
* a bundle the crashed step published but never recorded (the backup intent's path, its header
  naming this ceremony) and the write-once temp files (``.<name>.*.partial``) beside it;
* share files exported by a ceremony whose new share set never became active (void shares) —
  never while a reshare's new set is still *pending* (the token may already have its PINs);
* custodians enrolled by an init whose share set was never committed (nothing refers to them);
* the crashed step's intent: kept (``abandoned``) when it touched the token, cleared otherwise.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vault.ceremony import intents

TOKEN_KINDS = frozenset({"generate-key", "rotate-key", "destroy-key"})


def undo_on_abort(vault, ceremony_id: str, *, crashed: bool) -> list[str]:
    undone: list[str] = []
    switched = _committed_share_set(vault, ceremony_id)
    undone += _unrecorded_bundle(vault, ceremony_id, crashed)
    undone += _interrupted_reshare_bundle(vault, ceremony_id)
    if not switched:
        undone += _withdraw_backups(vault, ceremony_id)
        undone += _void_share_files(vault, ceremony_id)
        undone += _withdraw_enrollments(vault, ceremony_id)
    for line in undone:
        vault.ledger.append("ceremony.undone", {"what": line}, actor="console", ceremony_id=ceremony_id)
    return undone


def _committed_share_set(vault, ceremony_id: str) -> bool:
    return any(s.ceremony_id == ceremony_id and s.status.value == "active" for s in vault.store.list_share_sets())


def _unrecorded_bundle(vault, ceremony_id: str, crashed: bool) -> list[str]:
    intent = intents.get(vault, ceremony_id)
    if intent is None:
        return []
    if intent.get("kind") in TOKEN_KINDS and crashed:
        intents.mark_abandoned(vault, ceremony_id)  # the reconcile ceremony resolves its orphan, if any
        return []
    intents.clear(vault, ceremony_id)
    out = []
    path = intent.get("path")
    if intent.get("kind") in ("backup", "reshare-commit") and path:
        out += remove_unrecorded_bundle(vault, Path(path), ceremony_id)
    return out


def _interrupted_reshare_bundle(vault, ceremony_id: str) -> list[str]:
    """A reshare cut inside its switch published its new bundle but never recorded it: no restore
    or drill accepts an unrecorded bundle, and it would block the rerun's path, so it goes now
    (whichever way the next quorum settles the switch, it asks for a new backup). Its share
    files stay until then (``settle_interrupted_reshare_files``)."""
    from vault.operations.reshare import interrupted

    pending = interrupted(vault)
    if pending is None or pending.ceremony_id != ceremony_id or not pending.bundle_path:
        return []
    return remove_unrecorded_bundle(vault, Path(pending.bundle_path), ceremony_id)


def remove_unrecorded_bundle(vault, path: Path, ceremony_id: str) -> list[str]:
    """The crashed step's own bundle (header names this ceremony, no backup row has its digest)
    and the temp files of the write, removed. Anything else at that path is left alone."""
    out = []
    for tmp in path.parent.glob(f".{path.name}.*.partial"):
        _unlink(tmp)
        out.append(f"removed the unfinished temp file {tmp}")
    if path.is_file():
        from vault.backup.format import inspect_bundle
        from vault.errors import BundleCorrupt, BundleUnreadable, RecordNotFound

        try:
            header = inspect_bundle(path).header
        except (BundleCorrupt, BundleUnreadable):
            return out
        digest = _sha256(path)
        try:
            vault.store.get_backup_by_sha256(digest)
            return out  # recorded: not a leftover
        except RecordNotFound:
            pass
        if header.ceremony_id == ceremony_id:
            _unlink(path)
            out.append(f"removed the bundle {path} that the interrupted step wrote but never recorded")
    return out


def _withdraw_backups(vault, ceremony_id: str) -> list[str]:
    out = []
    for backup in vault.store.backups_of_ceremony(ceremony_id):
        if not vault.store.withdraw_backup(backup.id):
            out.append(f"kept backup {backup.id} ({backup.path}): a drill refers to it")
            continue
        path = Path(backup.path)
        if path.is_file() and _sha256(path) == backup.sha256:
            _unlink(path)
            out.append(f"withdrew backup {backup.id} and removed its bundle {path}")
        else:
            out.append(f"withdrew backup {backup.id} (its bundle {path} was no longer there as written)")
    return out


def _void_share_files(vault, ceremony_id: str) -> list[str]:
    exported = [e for e in vault.ledger.events_of(ceremony_id) if e.action == "shares.exported"]
    if not exported:
        return []
    if any(s.ceremony_id == ceremony_id and s.status.value == "pending" for s in vault.store.list_share_sets()):
        # a reshare cut inside its switch: the token may already have the new set's PINs, so its
        # shares may be the only way in; the next quorum activation settles it (never removed here)
        return ["kept the new share files: the reshare's switch is not settled yet (the next quorum decides)"]
    names = set()
    for step in vault.store.steps_of(ceremony_id):
        result = step.result if isinstance(step.result, dict) else {}
        names.update(result.get("custodians") or [])
    out = []
    for event in exported:
        directory = Path(event.details["directory"])
        for name in sorted(names):
            share = directory / f"{name}.share"
            if share.is_file():
                _unlink(share)
                out.append(f"removed the void share file {share} (its share set was never activated)")
    return out


def settle_interrupted_reshare_files(vault, crashed_ceremony_id: str, bundle_path: str, *, abandoned: bool,
                                     ceremony_id: str | None, actor: str) -> list[str]:
    """After the next quorum settled a reshare cut inside its switch (vault.operations.reshare
    .resolve_interrupted_reshare), what the abort had to keep while the token might hold the new
    set's PINs: abandoned → the share files that reshare exported are void, removed; either way
    the bundle it published but never recorded (no restore or drill accepts an unrecorded
    bundle; the settlement asks for a new backup) and its temp files, removed."""
    removed = _void_share_files(vault, crashed_ceremony_id) if abandoned else []
    if bundle_path:
        removed += remove_unrecorded_bundle(vault, Path(bundle_path), crashed_ceremony_id)
    for line in removed:
        vault.ledger.append("shares.void_removed", {"what": line, "interrupted_ceremony": crashed_ceremony_id},
                            actor=actor, ceremony_id=ceremony_id)
    return removed


def _withdraw_enrollments(vault, ceremony_id: str) -> list[str]:
    record = vault.store.get_ceremony(ceremony_id)
    if record.definition_name != "init":
        return []
    out = []
    for c in vault.store.custodians_enrolled_by(ceremony_id):
        if vault.store.withdraw_custodian(c.id):
            out.append(f"withdrew the enrollment of {c.name} ({c.role.value}): the init never committed a share set")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
