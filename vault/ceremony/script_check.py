"""Check a ceremony script against its ceremony before the first step runs.

A scripted run must not fail half-way: a script that would be refused at step 5 must not have
generated a key at step 4. ``check_script(script, definition, vault)`` therefore walks the
definition's steps in order, asks each step kind which questions it will put (its declared
``Ask``s, see vault.ceremony.kinds and vault.ceremony.steps.asks), and refuses the script, with
file, line and key, when:

* an answer key names no question of that step (a typo in ``"backup.paht"``);
* an answer has the wrong type for its question (``"backup.path" = 5`` is not a path), a
  dictionary answer has unknown or missing fields, a secret is not a reference;
* a reference cannot be resolved (an unset environment variable, a missing or non-UTF-8 file);
* a single answer fails the question's own check (a policy that is no policy, an algorithm
  the step does not offer, an output file that exists or goes through a symbolic link, an
  input file that is missing, a typed label that is not the chosen key's...);
* a question every run asks has neither an answer nor a default.

A list answers repeated prompts in order: its elements are checked for type and references
only (an earlier element may be meant to be refused and asked again).

Some answers are only known once the ceremony runs (who entered the quorum's shares, and so
must attest). ``ScriptChecker.before_irreversible`` is called by the engine before every step
that cannot be repeated (RunOptions.preflight) and checks again what the remaining steps need,
with what the ceremony now knows: a missing attestation passphrase stops the ceremony before
the key is generated, not after.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from vault.ceremony.definitions import CeremonyDefinition, StepDef, _line_map, _locate, read_toml_text
from vault.ceremony.kinds import Ask, registry
from vault.errors import ScriptInvalid, VaultError

# How a script answers each shape of question (the ``Ask.shape`` vocabulary).
SHAPES = {
    "confirm": "true or false",
    "choice": "a string naming one of the choices",
    "text": "a string",
    "typed": "a string, typed exactly",
    "path-out": "a string: a new file's path",
    "path-in": "a string: an existing file's path",
    "secret": '{ secret = "env:NAME" } or { secret = "file:PATH" }',
    "share": '{ share = "env:NAME" | "file:PATH" }, or { action = "reset" } / { action = "cancel" }',
    "share-verify": '{ share = REF }, { secret = REF } (quiz words), or { action = "reset" }',
    "witness": "{ confirmed = true } or { deviation = { expected, happened, action, decided_by } }",
    "attest": '{ agree = true|false, comment = "...", passphrase = REF }',
    "review": 'true (the administrator and the witness confirm), or { action = "back" }',
}


class Plan:
    """What the check knows while it walks the steps: the script, the vault, and facts the
    earlier steps' answers establish (the policy, who takes part, keys made in this run)."""

    def __init__(self, script, definition: CeremonyDefinition, vault=None) -> None:
        self.script = script
        self.definition = definition
        self.vault = vault
        self.facts: dict[str, Any] = {"participants": [], "new_keys": set(), "keys_change": False}
        self.step: StepDef | None = None

    def answer(self, ask: str, step_id: str | None = None) -> Any:
        """The script's answer to ``ask`` of the current step (the first one of a list), or None."""
        value = self.script.answers.get(f"{step_id or self.step.id}.{ask}")
        if isinstance(value, list):
            return value[0] if value else None
        return value

    def add_participant(self, name: Any) -> None:
        if isinstance(name, str) and name.strip() and name.strip() not in self.facts["participants"]:
            self.facts["participants"].append(name.strip())

    def keys(self) -> list:
        if self.vault is None:
            return []
        return list(self.vault.store.list_keys())

    def people(self, role: str) -> list[str]:
        if self.vault is None:
            return []
        from vault.types import Role

        return [c.name for c in self.vault.store.list_custodians(role=Role(role))]


def asks_of(step: StepDef, plan: Plan) -> list[Ask]:
    """The questions ``step`` puts in a scripted run, as its kind declares them."""
    kind = registry()[step.kind]
    if kind.asks is None:
        raise ScriptInvalid(f"Step kind {step.kind!r} does not declare its questions, so scripts of "
                            f"{plan.definition.name!r} cannot be checked.",
                            next_step="Declare the kind's asks (vault.ceremony.steps.asks); this is a bug.")
    plan.step = step
    asks = list(kind.asks(step.params, plan))
    if step.witness:
        asks.append(Ask("witness", "witness", required=True, default="witness"))
    if kind.review:  # the review before the HSM acts (vault.ceremony.review): confirmed unless review = "ask"
        asks.append(Ask("review", "review", required=True, default="review"))
    if step.witness or kind.review:  # the witness's passphrase, once per run, before their first act
        witness = _witness_name(plan)
        asks.append(Ask("witness-passphrase", "secret", default=f"passphrase:{witness}" if witness else None))
    return asks


def _witness_name(plan: Plan) -> str | None:
    """Who the script names as the witness (a participants step's answer, or init's enroll step)."""
    for s in plan.definition.steps:
        if s.kind == "participants":
            name = plan.answer("witness", s.id)
        elif s.kind == "enroll" and s.params.get("role") == "witness":
            name = plan.answer("name", s.id)
        else:
            continue
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


class ScriptChecker:
    def __init__(self, script, definition: CeremonyDefinition, vault=None) -> None:
        self.script = script
        self.definition = definition
        self.vault = vault
        self._lines = _line_map(read_toml_text(script.path, ScriptInvalid)) if script.path.is_file() else {}

    # -- errors --------------------------------------------------------------------------------
    def _fail(self, key: str | None, problem: str, next_step: str | None = None) -> ScriptInvalid:
        if key is None:
            where, shown = ("answers",), "answers"
        else:
            step_id, _, ask = key.partition(".")
            where, shown = ("answers", step_id, *ask.split(".")), f'answers."{key}"'
        line = _locate(self._lines, where)
        return ScriptInvalid(f"{self.script.path}:{line}: key '{shown}': {problem}.", next_step=next_step)

    # -- the whole script, before the ceremony starts ------------------------------------------
    def check(self) -> None:
        plan = Plan(self.script, self.definition, self.vault)
        by_step: dict[str, list[Ask]] = {}
        for step in self.definition.steps:
            by_step[step.id] = asks = asks_of(step, plan)
            if step.kind == "distribute-shares":
                self._check_share_dir(step)
            self._check_answers(step, asks)
            self._check_required(step, asks)
        for key in self.script.answers:
            step_id = key.split(".", 1)[0]
            if step_id not in by_step:  # load_script already refuses this; kept for direct callers
                raise self._fail(key, f"step {step_id!r} is not a step of {self.definition.name!r}")

    def _check_share_dir(self, step: StepDef) -> None:
        from vault.backup.outfile import check_folder

        share_dir = self.script.share_dir
        line = _locate(self._lines, ("share_dir",))
        if share_dir is None:
            raise ScriptInvalid(f"{self.script.path}:{line}: key 'share_dir': step '{step.id}' hands out new shares, "
                                "and a scripted run writes them only to the script's share_dir.",
                                next_step='Add share_dir = "DIR" (a new, empty directory) to the script.')
        try:  # the directory (or, if it is still to be made, its parent) is reached without a link
            check_folder(share_dir / "-" if os.path.lexists(share_dir) else share_dir)
        except VaultError as exc:
            raise ScriptInvalid(f"{self.script.path}:{line}: key 'share_dir': {exc.message}",
                                next_step=exc.next_step) from None

    def _check_answers(self, step: StepDef, asks: list[Ask]) -> None:
        prefix = f"{step.id}."
        for key, value in self.script.answers.items():
            if not key.startswith(prefix):
                continue
            ask_name = key[len(prefix):]
            ask = match(asks, ask_name)
            if ask is None:
                names = ", ".join(sorted({a.name.replace(":*", ":<name>") for a in asks})) or "none"
                raise self._fail(key, f"step '{step.id}' ({step.kind}) asks no question {ask_name!r} "
                                      f"(its questions: {names})")
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not value:
                raise self._fail(key, "an empty list answers nothing")
            for i, v in enumerate(values):
                where = f" (answer {i + 1} of the list)" if isinstance(value, list) else ""
                problem = shape_problem(ask.shape, v)
                if problem:
                    raise self._fail(key, f"{problem}{where}; {ask.shape} questions take {SHAPES[ask.shape]}")
                self._check_refs(key, v, where)
            if not isinstance(value, list) and ask.check is not None and not _is_action(value):
                problem = ask.check(value)
                if problem:
                    raise self._fail(key, problem)

    def _check_required(self, step: StepDef, asks: Iterable[Ask]) -> None:
        for ask in asks:
            if not ask.required or ask.name.endswith(":*"):
                continue
            key = f"{step.id}.{ask.name}"
            if key in self.script.answers:
                continue
            if self._default_available(ask, key):
                continue
            raise self._fail(None, f"no answer for '{key}', which this ceremony asks at step {step.index} "
                                   f"'{step.id}' ({ask.shape}: {SHAPES[ask.shape]})",
                             next_step=f'Add "{key}" = ... to [answers] before running the ceremony.')

    def _default_available(self, ask: Ask, key: str) -> bool:
        d = ask.default
        s = self.script
        if d is None:
            return False
        if d == "always":
            return True
        if d == "checklists":
            return s.defaults.get("checklists") == "confirm"
        if d == "witness":
            return s.defaults.get("witness") == "confirm"
        if d == "review":
            return s.defaults.get("review", "confirm") == "confirm"
        if d == "share_dir":
            return s.share_dir is not None
        kind, _, person = d.partition(":")
        if kind == "passphrase" and person in s.passphrases:
            self._check_refs(key, {"passphrase": s.passphrases[person]}, f" ([passphrases] {person})")
            return True
        if kind == "attest" and s.defaults.get("attest") == "agree" and person in s.passphrases:
            self._check_refs(key, {"passphrase": s.passphrases[person]}, f" ([passphrases] {person})")
            return True
        return False

    def _check_refs(self, key: str, value: Any, where: str = "") -> None:
        from vault.ceremony.script import resolve_ref

        if not isinstance(value, dict):
            return
        for field, kind in (("secret", "secret"), ("share", "share"), ("passphrase", "passphrase")):
            ref = value.get(field)
            if ref is None:
                continue
            try:
                resolve_ref(ref, self.script.base, kind).wipe()
            except VaultError as exc:
                raise self._fail(key, f"{exc.message}{where}", exc.next_step) from None

    # -- at run time, before a step that cannot be repeated ---------------------------------------
    def before_irreversible(self, step: StepDef, values: Mapping[str, Any]) -> None:
        """What the remaining steps need, now that the ceremony knows who takes part."""
        people = [p["name"] for p in values.get("participants", []) if isinstance(p, dict)]
        for later in self.definition.steps[step.index - 1:]:
            if later.kind != "attest":
                continue
            for name in people:
                key = f"{later.id}.attest:{name}"
                if key in self.script.answers:
                    self._check_refs(key, self.script.answers[key] if not isinstance(self.script.answers[key], list)
                                     else self.script.answers[key][0])
                    continue
                ask = Ask(f"attest:{name}", "attest", required=True, default=f"attest:{name}")
                if not self._default_available(ask, key):
                    raise ScriptInvalid(
                        f"{self.script.path}: {name} takes part and attests at step {later.index} "
                        f"'{later.id}', but the script has no passphrase reference for {name} and no answer "
                        f"'{key}'; stopped before step {step.index} '{step.id}', which cannot be undone.",
                        next_step=f'Add {name} = "env:NAME" to [passphrases] (with attest = "agree"), or "{key}".')


def match(asks: Iterable[Ask], name: str) -> Ask | None:
    family = None
    for ask in asks:
        if ask.name == name:
            return ask
        if ask.name.endswith(":*") and name.startswith(ask.name[:-1]) and len(name) > len(ask.name) - 1:
            family = family or ask
    return family


def _is_action(value: Any) -> bool:
    return isinstance(value, dict) and ("abort" in value or "action" in value)


def _fields(value: dict, allowed: set[str], required: set[str]) -> str | None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}"
    missing = sorted(required - set(value))
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    return None


def _ref_problem(ref: Any) -> str | None:
    if not isinstance(ref, str) or not (ref.startswith("env:") or ref.startswith("file:")) or len(ref) < 5:
        return "a secret is given only by reference: 'env:NAME' or 'file:PATH'"
    return None


def shape_problem(shape: str, value: Any) -> str | None:
    """None when ``value`` can answer a question of ``shape``, else what is wrong with it."""
    if value == {"action": "back"}:  # back one question in the step (vault.ceremony.engine)
        return None
    if shape == "review":
        return None if isinstance(value, bool) or (isinstance(value, dict) and "abort" in value) \
            else f"{_what(value)} is not true or false"
    if isinstance(value, dict) and "abort" in value:
        problem = _fields(value, {"abort"}, {"abort"})
        if problem:
            return problem
        return None if isinstance(value["abort"], str) and value["abort"].strip() else "an abort needs a reason"
    if shape == "confirm":
        return None if isinstance(value, bool) else f"{_what(value)} is not true or false"
    if shape in ("choice", "typed", "path-out", "path-in"):
        return None if isinstance(value, str) else f"{_what(value)} is not a string"
    if shape == "text":
        return None if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)) \
            else f"{_what(value)} is not a string"
    if not isinstance(value, dict):
        if shape in ("secret", "share", "share-verify"):
            return f"{_what(value)} is not a reference table: a secret is given only by reference"
        return f"{_what(value)} is not a table"
    if shape == "secret":
        return _fields(value, {"secret"}, {"secret"}) or _ref_problem(value["secret"])
    if shape == "share":
        if "action" in value:
            return _fields(value, {"action"}, {"action"}) or (
                None if value["action"] in ("reset", "cancel") else "action must be reset or cancel")
        return _fields(value, {"share", "custodian"}, {"share"}) or _ref_problem(value["share"]) or (
            None if isinstance(value.get("custodian", ""), str) else "custodian must be a string")
    if shape == "share-verify":
        if "action" in value:
            return _fields(value, {"action"}, {"action"}) or (
                None if value["action"] == "reset" else "action must be reset")
        if "share" in value:
            return _fields(value, {"share", "custodian"}, {"share"}) or _ref_problem(value["share"])
        return _fields(value, {"secret"}, {"secret"}) or _ref_problem(value["secret"])
    if shape == "witness":
        if "deviation" in value:
            problem = _fields(value, {"deviation"}, {"deviation"})
            d = value["deviation"]
            if problem:
                return problem
            if not isinstance(d, dict):
                return "deviation is a table"
            keys = {"expected", "happened", "action", "decided_by"}
            return _fields(d, keys, keys) or (None if all(isinstance(d[k], str) and d[k].strip() for k in keys)
                                              else "every deviation field is a non-empty string")
        problem = _fields(value, {"confirmed"}, {"confirmed"})
        return problem or (None if isinstance(value["confirmed"], bool) else "confirmed is true or false")
    if shape == "attest":
        problem = _fields(value, {"agree", "comment", "passphrase"}, {"agree"})
        if problem:
            return problem
        if not isinstance(value["agree"], bool):
            return "agree is true or false"
        if not isinstance(value.get("comment", ""), str):
            return "comment is a string"
        if "passphrase" in value:
            return _ref_problem(value["passphrase"])
        return None
    raise ValueError(f"unknown ask shape {shape!r}")


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def check_script(script, definition: CeremonyDefinition, vault=None) -> ScriptChecker:
    """Raise ``ScriptInvalid`` (file, line, key) for anything the run would trip over; returns the
    checker, whose ``before_irreversible`` the engine calls during the run."""
    checker = ScriptChecker(script, definition, vault)
    checker.check()
    return checker


def output_path_problem(value: str, base: Path) -> str | None:
    """For ``path-out`` checks: what refuses this output path, or None."""
    from vault.backup.outfile import absolute, check_output_path

    path = Path(value).expanduser()
    if not value.strip():
        return "an output path cannot be empty"
    try:
        check_output_path(path if path.is_absolute() else absolute(base / path))
    except VaultError as exc:
        return exc.message.rstrip(".")
    return None


def input_path_problem(value: str, base: Path, *, allow_latest: bool = False) -> str | None:
    if allow_latest and value.strip() in ("", "latest"):
        return None
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not value.strip() or not path.is_file() or not os.access(path, os.R_OK):
        return f"{path} is not a readable file"
    return None
