"""The compact layout of the vault metadata in a format 3 bundle: rows as columns, in blocks.

A snapshot (vault.store.snapshot) is a stream of records: a start record, per table a table
record and one JSON array per row, an end record. Row after row, the same columns repeat the
same kind of value (ids counting up, timestamps a millisecond apart, the same state, the same
token serial), which a general compressor sees only as repeated text a row apart. Turned into
columns, each a block of at most ``BLOCK`` rows, every column is one JSON array of like values,
and two kinds are stored as differences from the previous value: integers, and UTC timestamps
of the console's form ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (as microseconds). Ledger events
(the snapshot's short rows: the body without its ``prev_hash``/``seq`` ending) are parsed and
their members become columns too, ``details`` included, so the key records a key.generated
event repeats sit one column apart from each other.

``to_columns(records)`` turns the snapshot's row records into block records and passes every
other record through; ``from_columns(records)`` gives back exactly the records that went in
(the writer proves this for every value it transforms: a timestamp or a ledger event that would
not come back byte for byte is kept as it is). docs/backup-format.md, section 3a, has the
byte-level description; a malformed block raises ``ValueError``.

A block record is ``{"block": N, "cols": [C, ...]}`` (a table's N rows, one C per column) or
``{"block": N, "events": C}`` (N ledger short rows). A column C is one of:

* ``{"i": [d, ...]}`` integers, each the difference from the previous one (the first from 0);
* ``{"t": [d, ...]}`` timestamps, as microseconds since 1970-01-01T00:00:00Z, differences so;
* ``{"o": [K, ...], "c": [C, ...], "a": [[i, ...], ...]}`` JSON objects: for each member name K
  its column C, and the (ascending) indices of the objects that lack it (a null stands there);
* ``{"n": [i, ...], "x": C}`` a column with nulls at indices i, the other values in C;
* ``{"v": [value, ...]}`` the values as they are.
"""

from __future__ import annotations

import re
from base64 import b64encode
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import accumulate
from json import loads
from operator import itemgetter, sub
from typing import Any

from vault.store.canonical import canonical_json_unchecked

BLOCK = 2_000
_EPOCH = datetime(1970, 1, 1)
_MICRO = timedelta(microseconds=1)
_fromiso = datetime.fromisoformat
_ABSENT = object()


# --- one column ---------------------------------------------------------------------------------
#: The console's timestamps (vault.store.clock): ASCII digits only, every field zero-padded, so a
#: text that matches parses to a moment whose isoformat() + "Z" is that same text.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII).fullmatch


def _micros(text: str) -> int:
    return (_fromiso(text[:-1]) - _EPOCH) // _MICRO


def _blob(value: Any) -> Any:
    """A BLOB as the snapshot gives it (vault.store.snapshot): ``{"b64": ...}``."""
    return {"b64": b64encode(value).decode("ascii")} if type(value) is bytes else value


def _render(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"


def _deltas(values: list[int]) -> list[int]:
    return list(map(sub, values, [0, *values[:-1]]))


def _sums(deltas: list[Any]) -> list[int]:
    if set(map(type, deltas)) - {int}:
        raise ValueError("a difference column holds a value that is not an integer")
    return list(accumulate(deltas))


def encode_column(values: list[Any]) -> dict[str, Any]:
    """The most compact of the forms above that gives ``values`` back exactly."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        if type(None) in kinds and len(kinds) == 2:
            nulls = [i for i, v in enumerate(values) if v is None]
            inner = encode_column([v for v in values if v is not None])
            if "v" not in inner:
                return {"n": nulls, "x": inner}
        return {"v": [_blob(v) for v in values] if bytes in kinds else values}
    kind = kinds.pop()
    if kind is int:
        return {"i": _deltas(values)}
    if kind is str:
        if all(map(_TIMESTAMP, values)):
            try:
                return {"t": _deltas(list(map(_micros, values)))}
            except ValueError:  # matches the pattern but is no date (a 13th month)
                pass
        return {"v": values}
    if kind is dict:
        names = sorted(set().union(*values))
        if all(type(k) is str for k in names):
            columns, absent = [], []
            for k in names:
                try:
                    column, gone = list(map(itemgetter(k), values)), []
                except KeyError:
                    column = [v.get(k) for v in values]
                    gone = [i for i, v in enumerate(values) if k not in v]
                columns.append(encode_column(column))
                absent.append(gone)
            return {"o": names, "c": columns, "a": absent}
    if kind is bytes:
        return {"b64": [b64encode(v).decode("ascii") for v in values]}
    return {"v": values}


def _indices(value: Any, n: int) -> list[int]:
    if type(value) is not list or not all(type(i) is int and 0 <= i < n for i in value) or value != sorted(set(value)):
        raise ValueError("an index list is not ascending indices into its block")
    return value


def decode_column(column: Any, n: int) -> list[Any]:
    """The ``n`` values of an encoded column; ``ValueError`` if it is not one."""
    if type(column) is not dict or not column:
        raise ValueError("a column is not one of the block layouts")
    if "b64" in column:
        data = column["b64"]
        if len(column) != 1 or type(data) is not list or len(data) != n or set(map(type, data)) - {str}:
            raise ValueError("a BLOB column is not a list of base64 texts of its block's length")
        return [{"b64": v} for v in data]
    if "i" in column or "t" in column or "v" in column:
        if len(column) != 1:
            raise ValueError("a column has more than one layout")
        (tag, data), = column.items()
        if type(data) is not list or len(data) != n:
            raise ValueError(f"a column holds {len(data) if type(data) is list else 'no'} values where {n} were expected")
        if tag == "v":
            return data
        sums = _sums(data)
        return sums if tag == "i" else [_render(t) for t in sums]
    if set(column) == {"n", "x"}:
        nulls = _indices(column["n"], n)
        rest = iter(decode_column(column["x"], n - len(nulls)))
        null_at = set(nulls)
        return [None if i in null_at else next(rest) for i in range(n)]
    if set(column) == {"o", "c", "a"}:
        names, columns, absent = column["o"], column["c"], column["a"]
        if (type(names) is not list or not all(type(k) is str for k in names) or names != sorted(set(names))
                or type(columns) is not list or type(absent) is not list
                or not len(names) == len(columns) == len(absent)):
            raise ValueError("an object column does not name each member once with its column")
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, col, missing in zip(names, columns, absent):
            gone = set(_indices(missing, n))
            for i, value in enumerate(decode_column(col, n)):
                if i not in gone:
                    out[i][name] = value
                elif value is not None:
                    raise ValueError("an object column has a value where its member is absent")
        return out
    raise ValueError("a column is not one of the block layouts")


# --- the record stream ----------------------------------------------------------------------------
def _ledger_events(rows: list[list]) -> list[dict] | None:
    """The members of each short ledger row's body, if each gives back its text exactly; else None."""
    texts = [r[0] + "}" if len(r) == 1 and type(r[0]) is str else None for r in rows]
    if None in texts:
        return None
    try:
        events = loads("[" + ",".join(texts) + "]")  # type: ignore[arg-type]
        if len(events) == len(texts) and all(type(e) is dict for e in events) and all(
                map(str.__eq__, map(canonical_json_unchecked, events), texts)):  # type: ignore[arg-type]
            return events
    except (TypeError, ValueError):
        pass
    return None


def _block(table: str | None, rows: list[list]) -> Iterator[Any]:
    if table == "ledger":
        events = _ledger_events(rows)
        if events is None:
            yield from (list(r) for r in rows)  # not all short and canonical: the rows as they are
        else:
            yield {"block": len(rows), "events": encode_column(events)}
        return
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        yield from ([_blob(v) for v in r] for r in rows)
        return
    yield {"block": len(rows), "cols": [encode_column(list(column)) for column in zip(*rows)]}


def to_columns(records: Iterable[Any], *, block: int | None = None) -> Iterator[Any]:
    """The snapshot ``records`` with each table's rows gathered into block records (of at most
    ``block`` rows, ``BLOCK`` by default: memory is bounded by a block, not by the vault)."""
    block = block or BLOCK
    table, rows = None, []
    for record in records:
        if type(record) is list or type(record) is tuple:
            rows.append(record)
            if len(rows) >= block:
                yield from _block(table, rows)
                rows = []
            continue
        if rows:
            yield from _block(table, rows)
            rows = []
        if type(record) is dict and "table" in record:
            table = record["table"]
        yield record
    if rows:
        yield from _block(table, rows)


def from_columns(records: Iterable[Any]) -> Iterator[Any]:
    """The snapshot records that ``to_columns`` was given (``ValueError`` for a bad block)."""
    for record in records:
        if type(record) is not dict or "block" not in record:
            yield record
            continue
        n = record["block"]
        if type(n) is not int or not 0 < n <= 1_000_000 or set(record) not in ({"block", "cols"}, {"block", "events"}):
            raise ValueError("a block record is not {block, cols} or {block, events}")
        if "events" in record:
            for event in decode_column(record["events"], n):
                if type(event) is not dict:
                    raise ValueError("a ledger block holds an event that is not an object")
                yield [canonical_json_unchecked(event)[:-1]]
            continue
        columns = record["cols"]
        if type(columns) is not list or not columns:
            raise ValueError("a block record has no columns")
        yield from (list(row) for row in zip(*(decode_column(c, n) for c in columns)))
