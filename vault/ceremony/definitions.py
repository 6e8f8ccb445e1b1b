"""Ceremony definitions: ``ceremonies/*.toml``, one ceremony per file, strictly parsed.

Format (documented for users in ceremonies/README.md)::

    format = 1
    name = "generate-key"             # must equal the file name without .toml
    title = "Generate a master key"
    purpose = "..."                   # read aloud at the start
    roles = ["administrator", "custodian", "witness"]
    quorum = "existing"               # "none" | "existing" (activate the active share set) | "new"
    preconditions = ["initialised"]   # names from vault.ceremony.preconditions

    [[step]]
    id = "generate"                   # unique in the file; [a-z0-9-]
    kind = "generate-key"             # from the step-kind registry (vault.ceremony.kinds)
    title = "Generate the key in the HSM"
    read_aloud = "..."                # optional
    help = "..."                      # optional
    witness = true                    # optional: the witness confirms this step
    [step.params]                     # optional, checked against the kind's schema
    ...

Unknown keys, missing keys and wrong types are refused with ``DefinitionInvalid`` naming the
file, the line and the key (tomllib gives no positions, so ``_locate`` finds the line in the raw
text). Built-in definitions live in the repository's ``ceremonies/``; users add their own in
``<home>/ceremonies/`` (a user file may not reuse a built-in name).
"""

from __future__ import annotations

import enum
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from vault.errors import DefinitionInvalid, VaultError
from vault.inputs import TOML_BYTES, read_bounded
from vault.types import Role

FORMAT = 1


def builtin_dir_path() -> Path:
    """The built-in definitions: package data of the ``ceremonies`` package (importlib.resources),
    so an installed wheel has them as well as a source checkout. Adding a ``ceremonies/*.toml``
    file is the only step needed to add a built-in ceremony."""
    from importlib.resources import files

    return Path(str(files("ceremonies")))


BUILTIN_DIR = builtin_dir_path()
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class QuorumRequirement(enum.Enum):
    NONE = "none"
    EXISTING = "existing"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class StepDef:
    index: int  # 1-based
    id: str
    kind: str
    title: str
    read_aloud: str = ""
    help: str = ""
    witness: bool = False
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class CeremonyDefinition:
    name: str
    title: str
    purpose: str
    roles: tuple[Role, ...]
    quorum: QuorumRequirement
    preconditions: tuple[str, ...]
    steps: tuple[StepDef, ...]
    source: Path
    builtin: bool = True

    def step(self, step_id: str) -> StepDef:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


# --- locating a key in the raw TOML ----------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _line_map(text: str) -> dict[tuple, int]:
    """Path → 1-based line for tables, array-of-table entries and keys (``("step", 2, "kind")``)."""
    out: dict[tuple, int] = {}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    in_multiline: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER.match(line)
        if header and not _ASSIGN.match(line):
            names = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
            # resolve array indexes of the parent tables from the counters
            resolved: tuple = ()
            for name in names[:-1]:
                resolved += (name,)
                if resolved in counters:
                    resolved += (counters[resolved],)
            resolved += (names[-1],)
            if header.group(1) == "[[":
                counters[resolved] = counters.get(resolved, -1) + 1
                current = resolved + (counters[resolved],)
            else:
                current = resolved
            out.setdefault(current, lineno)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            key = tuple(p.strip().strip("\"'") for p in assign.group(1).split("."))
            out.setdefault(current + key, lineno)
            rest = line[assign.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return out


def _locate(lines: dict[tuple, int], path: tuple) -> int:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1


# --- reading ----------------------------------------------------------------------------------------
def read_toml_text(path: Path, error: type[VaultError]) -> str:
    """The file's text; ``error`` names the file and, for bytes that are not UTF-8, the line and
    column of the first one (a value or a comment alike)."""
    try:
        raw = read_bounded(path, TOML_BYTES)
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(f"{path}:{line}: byte 0x{raw[exc.start]:02x} at column {column} is not UTF-8 text.",
                    next_step="Save the file as UTF-8 (in a value or a comment alike) and try again.") from None


# --- parsing ----------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = _line_map(text)

    def fail(self, keypath: tuple, problem: str) -> DefinitionInvalid:
        line = _locate(self.lines, keypath)
        shown = ".".join(str(p) if not isinstance(p, int) else f"[{p + 1}]" for p in keypath).replace(".[", "[")
        return DefinitionInvalid(f"{self.path}:{line}: key '{shown}': {problem}.")

    def table(self, table: dict, where: tuple, required: dict[str, type], optional: dict[str, type]) -> dict:
        for key in table:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted({*required, *optional}))
                raise self.fail(where + (key,), f"unknown key (allowed: {allowed})")
        for key in required:
            if key not in table:
                raise self.fail(where or (key,), f"missing required key '{key}'")
        for key, value in table.items():
            typ = required.get(key) or optional[key]
            if (isinstance(value, bool) and typ is not bool) or not isinstance(value, typ):
                raise self.fail(where + (key,), f"must be {typ.__name__}, not {type(value).__name__}")
        return table


def parse_definition(path: Path, text: str | None = None, *, kinds=None, preconditions=None,
                     builtin: bool = True) -> CeremonyDefinition:
    from vault.ceremony import preconditions as pre
    from vault.ceremony.kinds import registry

    kinds = registry() if kinds is None else kinds
    known_pre = pre.PRECONDITIONS if preconditions is None else preconditions
    path = Path(path)
    if text is None:
        text = read_toml_text(path, DefinitionInvalid)
    p = _Parser(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionInvalid(f"{path}: not valid TOML: {exc}.") from None

    p.table(data, (), {"format": int, "name": str, "title": str, "purpose": str, "roles": list,
                       "quorum": str, "step": list}, {"preconditions": list})
    if data["format"] != FORMAT:
        raise p.fail(("format",), f"unsupported format {data['format']} (this console reads format {FORMAT})")
    if data["name"] != path.stem:
        raise p.fail(("name",), f"must equal the file name '{path.stem}'")
    roles = []
    for i, r in enumerate(data["roles"]):
        try:
            roles.append(Role(r))
        except ValueError:
            raise p.fail(("roles",), f"role {r!r} is not one of {', '.join(x.value for x in Role)}") from None
    try:
        quorum = QuorumRequirement(data["quorum"])
    except ValueError:
        raise p.fail(("quorum",), "must be one of none, existing, new") from None
    pres = data.get("preconditions", [])
    for name in pres:
        if name not in known_pre:
            raise p.fail(("preconditions",), f"unknown precondition {name!r} (known: {', '.join(sorted(known_pre))})")
    if not data["step"]:
        raise p.fail(("step",), "a ceremony needs at least one step")

    steps: list[StepDef] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["step"]):
        where = ("step", i)
        if not isinstance(raw, dict):
            raise p.fail(where, "each step must be a table ([[step]])")
        p.table(raw, where, {"id": str, "kind": str, "title": str},
                {"read_aloud": str, "help": str, "witness": bool, "params": dict})
        if not _ID_RE.match(raw["id"]):
            raise p.fail(where + ("id",), "must be lower-case letters, digits and dashes")
        if raw["id"] in seen:
            raise p.fail(where + ("id",), f"step id {raw['id']!r} is used twice")
        seen.add(raw["id"])
        kind = kinds.get(raw["kind"])
        if kind is None:
            raise p.fail(where + ("kind",), f"unknown step kind {raw['kind']!r} (known: {', '.join(sorted(kinds))})")
        params = dict(raw.get("params", {}))
        for key, value in params.items():
            spec = kind.params.get(key)
            if spec is None:
                allowed = ", ".join(sorted(kind.params)) or "none"
                raise p.fail(where + ("params", key), f"unknown parameter for kind {kind.name!r} (allowed: {allowed})")
            problem = spec.check(value)
            if problem:
                raise p.fail(where + ("params", key), problem)
        for key, spec in kind.params.items():
            if key not in params:
                if spec.required:
                    raise p.fail(where + ("params",), f"missing required parameter '{key}' for kind {kind.name!r}")
                params[key] = spec.default
        steps.append(StepDef(index=i + 1, id=raw["id"], kind=raw["kind"], title=raw["title"],
                             read_aloud=raw.get("read_aloud", "").strip(), help=raw.get("help", "").strip(),
                             witness=raw.get("witness", False), params=MappingProxyType(params)))
    return CeremonyDefinition(name=data["name"], title=data["title"], purpose=data["purpose"].strip(),
                              roles=tuple(roles), quorum=quorum, preconditions=tuple(pres),
                              steps=tuple(steps), source=path, builtin=builtin)


def user_dir(home_path: Path) -> Path:
    return Path(home_path) / "ceremonies"


@dataclass(frozen=True, slots=True)
class BrokenDefinition:
    """A user definition file that cannot be used: it is reported, and blocks only itself."""

    name: str  # the file name without .toml
    path: Path
    error: DefinitionInvalid


@dataclass(frozen=True, slots=True)
class CatalogueReport:
    definitions: Mapping[str, CeremonyDefinition]
    broken: tuple[BrokenDefinition, ...] = ()


def builtin_definition_paths(builtin_dir: Path | None = None) -> list[Path]:
    return sorted(Path(builtin_dir or builtin_dir_path()).glob("*.toml"))


def load_catalogue_report(home_path: Path | None = None, *, builtin_dir: Path | None = None) -> CatalogueReport:
    """Every usable definition (built-in first, then the home's own) and the home's broken files.

    A built-in definition that fails to parse is a defect of the installed package and raises.
    A user file that fails (bad TOML, a bad key, a built-in's name, not UTF-8, unreadable) is
    listed in ``broken`` with its ``DefinitionInvalid`` (file, line, key) and skipped: the
    other ceremonies, and every built-in one, still run.
    """
    out: dict[str, CeremonyDefinition] = {}
    for path in builtin_definition_paths(builtin_dir):
        d = parse_definition(path, builtin=True)
        out[d.name] = d
    broken: list[BrokenDefinition] = []
    folder = user_dir(home_path) if home_path is not None else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.toml")):
            try:
                d = parse_definition(path, builtin=False)
                if d.name in out:
                    raise DefinitionInvalid(f"{path}:1: key 'name': {d.name!r} is a built-in ceremony name.",
                                            next_step="Rename your file and its name key.")
            except DefinitionInvalid as exc:
                broken.append(BrokenDefinition(path.stem, path, exc))
                continue
            out[d.name] = d
    return CatalogueReport(MappingProxyType(out), tuple(broken))


def load_catalogue(home_path: Path | None = None, *, builtin_dir: Path | None = None) -> dict[str, CeremonyDefinition]:
    """Every usable definition: built-in first, then the home's own (broken files skipped; see
    ``load_catalogue_report`` for them)."""
    return dict(load_catalogue_report(home_path, builtin_dir=builtin_dir).definitions)


def find_definition(name: str, home_path: Path | None = None) -> CeremonyDefinition:
    report = load_catalogue_report(home_path)
    if name in report.definitions:
        return report.definitions[name]
    for broken in report.broken:
        if broken.name == name:
            raise broken.error
    from vault.errors import CeremonyUnknown

    raise CeremonyUnknown(f"There is no ceremony named {name!r}.",
                          next_step=f"Choose one of: {', '.join(sorted(report.definitions))} (`custodian ceremony list`).")
