"""A verified bundle checked, as a whole, against the vault's own record of that backup.

The MAC proves that a quorum wrote the bundle, not that it is the backup the vault recorded:
whoever holds a quorum can drop a key's line, duplicate one or change a fingerprint and
re-MAC the file. So before a restore or a drill touches any token, the bundle must be one the
vault recorded (the ``backups`` row and its ``backup_keys``), key for key:

* the header's share set, KEK check value, key count and format version are the recorded ones,
  and when the bundle is the recorded file (same path) its SHA-256 is the recorded one;
* every key the record holds is in the bundle with the same label, CKA_ID, algorithm, version
  and fingerprint; no key appears twice; no key is in the bundle that the record does not hold.

The common case streams: the bundle's entries and the record's keys (both in key creation
order) are compared pairwise, so memory stays flat in the key count. Only when they differ is
everything loaded once more to name each difference (``BundleMismatch`` lists them); a bundle
that differs only in the order of its lines is accepted.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from vault.backup.format import KeyEntry, VerifiedEntries
from vault.errors import BundleMismatch, RecordNotFound
from vault.store.records import BackupRecord, KeyRecord

if TYPE_CHECKING:
    from vault.vault import Vault

#: Differences named in one message; the rest are counted.
SHOWN = 4
#: Recorded keys read per query (memory stays flat in the key count).
PAGE = 128
NO_CEREMONY = "outside-a-ceremony"  # the header's ceremony_id of a backup written outside a ceremony


def check_against_record(vault: Vault, verified: VerifiedEntries, path: Path) -> BackupRecord:
    """The backup record ``verified`` is, after checking it key for key; ``BundleMismatch``
    naming each difference otherwise. Reads only: nothing is changed either way."""
    path = Path(path)
    by_digest = _by_sha256(vault, verified.sha256)
    if by_digest is not None:
        candidates = [by_digest]
    else:
        at_path = [b for b in vault.store.list_backups() if b.path == str(path.resolve())]
        if at_path:  # the recorded file itself, changed after it was written: refused whatever else differs
            recorded = at_path[-1]
            changed = (f"the file is not the one recorded at that path (SHA-256 {recorded.sha256[:16]}… recorded, "
                       f"{verified.sha256[:16]}… now)")
            raise _mismatch(path, recorded, [changed, *differences(vault, verified, recorded)])
        cid = verified.header.ceremony_id
        candidates = [b for b in vault.store.list_backups() if (b.ceremony_id or NO_CEREMONY) == cid]
        if not candidates:
            raise BundleMismatch(
                f"Bundle {path} (ceremony {cid}, written {verified.header.created_at}) is not a backup this vault "
                "recorded.",
                next_step="Restore or drill a bundle that this vault's backup ceremonies wrote (`custodian doctor` "
                          "lists the latest).",
            )  # fmt: skip
    problems: list[str] = []
    for record in reversed(candidates):  # the latest first: its problems are the ones reported
        found = differences(vault, verified, record)
        if not found:
            return record
        if not problems:
            problems, reported = found, record
    raise _mismatch(path, reported, problems)


def differences(vault: Vault, verified: VerifiedEntries, record: BackupRecord) -> list[str]:
    """Every way ``verified`` differs from ``record`` (empty: it is that backup)."""
    header = verified.header
    problems = []
    for name, bundle_value, recorded_value in (
        ("share set", header.share_set_id, record.share_set_id),
        ("KEK check value", header.kek_check_value, record.kek_check_value),
        ("key count", header.key_count, record.key_count),
        ("format version", header.format_version, record.format_version),
    ):
        if bundle_value != recorded_value:
            problems.append(f"the header's {name} is {bundle_value}, the vault recorded {recorded_value}")
    if not problems and _same_keys(verified, _recorded(vault, record)):
        return []
    return problems + _key_differences(verified, _recorded(vault, record))


def key_differences_against(entries: Iterable[KeyEntry], recorded) -> list[str]:
    """Every key difference between ``entries`` and the pairs (KeyRecord, written fingerprint)
    that the callable ``recorded`` yields afresh on each call (the lost-machine rebuild checks a
    bundle against its own metadata's key records with this: vault.operations.rebuild)."""
    if _same_keys(entries, recorded()):
        return []
    return _key_differences(entries, recorded())


def _by_sha256(vault: Vault, sha256: str) -> BackupRecord | None:
    try:
        record = vault.store.get_backup_by_sha256(sha256)
    except RecordNotFound:
        return None
    return record if hmac.compare_digest(record.sha256, sha256) else None


def _recorded(vault: Vault, record: BackupRecord) -> Iterator[tuple[KeyRecord, str]]:
    return vault.store.iter_backup_keys(record.id, page=PAGE)


def _fields(entry: KeyEntry) -> tuple:
    return entry.label, entry.cka_id, entry.algorithm, entry.version, entry.fingerprint


def _recorded_fields(key: KeyRecord, written_fingerprint: str) -> tuple:
    return key.label, key.cka_id, key.algorithm, key.version, written_fingerprint


def _same_keys(entries: Iterable[KeyEntry], recorded: Iterator[tuple[KeyRecord, str]]) -> bool:
    """Pairwise, in order, streaming: True when every entry is its recorded key."""
    for entry, pair in zip_longest(entries, recorded):
        if entry is None or pair is None:
            return False
        key, written = pair
        if _fields(entry) != _recorded_fields(key, written) or key.fingerprint != written:
            return False
    return True


_FIELD_NAMES = ("label", "CKA_ID", "algorithm", "version", "fingerprint")


def _key_differences(entries: Iterable[KeyEntry], recorded: Iterator[tuple[KeyRecord, str]]) -> list[str]:
    """Name every difference (loads both sides: only on the failure path)."""
    expected = {key.label: _recorded_fields(key, written) for key, written in recorded}
    problems = []
    seen: dict[str, tuple] = {}
    counts: Counter[str] = Counter()
    by_id: dict[str, str] = {}
    for entry in entries:
        counts[entry.label] += 1
        other = by_id.setdefault(entry.cka_id, entry.label)
        if other != entry.label:
            problems.append(f"CKA_ID {entry.cka_id} is given to both {other!r} and {entry.label!r}")
        seen.setdefault(entry.label, _fields(entry))
    for label, n in counts.items():
        if n > 1:
            problems.append(f"key {label!r} appears {n} times")
    for label, fields in seen.items():
        want = expected.get(label)
        if want is None:
            problems.append(f"key {label!r} is in the bundle but not in the recorded backup")
            continue
        for name, got, rec in zip(_FIELD_NAMES[1:], fields[1:], want[1:]):
            if got != rec:
                problems.append(f"key {label!r}: the bundle's {name} is {_show(got)}, the vault recorded {_show(rec)}")
    for label, want in expected.items():
        if label not in seen:
            problems.append(f"key {label!r} ({want[4]}) is missing from the bundle")
    return problems


def _show(value) -> str:
    return getattr(value, "value", None) or str(value)


def _mismatch(path: Path, record: BackupRecord, problems: list[str]) -> BundleMismatch:
    shown = "; ".join(problems[:SHOWN])
    more = f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    return BundleMismatch(
        f"Bundle {path} does not match backup {record.id} as the vault recorded it (ceremony "
        f"{record.ceremony_id or NO_CEREMONY}, {record.key_count} keys): {shown}{more}."
    )
