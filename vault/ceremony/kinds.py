"""The registry of step kinds: what a definition's ``kind = "..."`` may name.

A step kind declares its parameter schema (checked when a definition is loaded), whether it is
safe to repeat after a crash (``repeatable``), whether it needs an activated quorum, and its
``run(ctx, params)`` generator, which yields prompts and receives answers (see vault.ceremony.engine).

A kind whose step acts irreversibly on the HSM (or on the vault's keys) declares ``review=``: a
sentence saying what its review shows. Its body then runs ``yield from ctx.review(...)`` after
its last question and before its first HSM call that changes anything (vault.ceremony.review);
the paper script prints the sentence, and tests/ceremony/test_review.py checks, for every such
kind in the built-in ceremonies, that the review comes before the token or the ledger changes.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Generator, Iterable, Mapping

from vault.ceremony.prompts import Answer, Prompt

# A step's body: yields prompts, receives answers, returns a dict of non-secret results that is
# journaled and merged into the ceremony's values (later steps read it; resume restores it).
StepBody = Callable[..., Generator[Prompt, Answer, "dict[str, Any] | None"]]

_TYPES = {"str": str, "int": int, "bool": bool, "list[str]": list}


@dataclass(frozen=True, slots=True)
class ParamSpec:
    type: str  # "str" | "int" | "bool" | "list[str]"
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    doc: str = ""

    def check(self, value: Any) -> str | None:
        """None when ``value`` fits, else what is wrong (for the definition error)."""
        py = _TYPES[self.type]
        if isinstance(value, bool) and py is not bool:
            return f"must be {self.type}, not a boolean"
        if not isinstance(value, py):
            return f"must be {self.type}, not {type(value).__name__}"
        if self.type == "list[str]" and not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}"
        return None


@dataclass(frozen=True, slots=True)
class Ask:
    """One question a step puts, as a script answers it (vault.ceremony.script_check).

    ``name`` is the prompt's ``ask`` ("label"), or a family ending in ``:*`` ("attest:*": any
    person); ``shape`` how a script answers it (script_check.SHAPES); ``required``: every run
    asks it, so the script needs an answer unless ``default`` names one it may rely on
    ("always", "checklists", "witness", "share_dir", "passphrase:<person>", "attest:<person>");
    ``check(value)`` returns what is wrong with a single answer, or None.
    """

    name: str
    shape: str
    required: bool = False
    default: str | None = None
    check: Callable[[Any], "str | None"] | None = None


# A kind's declaration of its questions: (params, plan) -> the Asks of that step, in order.
AsksFn = Callable[[Mapping[str, Any], Any], "Iterable[Ask]"]


@dataclass(frozen=True, slots=True)
class StepKind:
    name: str
    run: StepBody
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    repeatable: bool = True  # safe to run again after a crash in the middle of it
    needs_quorum: bool = False
    doc: str = ""
    asks: AsksFn | None = None  # the questions it puts (scripts are checked against them)
    review: str = ""  # what the review before its irreversible action shows ("" = acts on nothing irreversible)


REGISTRY: dict[str, StepKind] = {}


def declare_asks(name: str, fn: AsksFn) -> None:
    """Declare the questions of the registered kind ``name`` (vault.ceremony.steps.asks)."""
    import dataclasses

    REGISTRY[name] = dataclasses.replace(REGISTRY[name], asks=fn)


def step_kind(name: str, *, params: Mapping[str, ParamSpec] | None = None, repeatable: bool = True,
              needs_quorum: bool = False, doc: str = "", asks: AsksFn | None = None,
              review: str = "") -> Callable[[StepBody], StepBody]:
    """Decorator registering a step body under ``name`` (``asks``: its questions, for script checks;
    ``review``: what its review before action shows)."""

    def register(fn: StepBody) -> StepBody:
        if name in REGISTRY:
            raise ValueError(f"step kind {name!r} registered twice")
        body = fn
        if not inspect.isgeneratorfunction(fn):  # a step that asks nothing: run it as a generator anyway

            def body(ctx, params, _fn=fn):
                return _fn(ctx, params)
                yield  # noqa: unreachable - makes this a generator function

        REGISTRY[name] = StepKind(name, body, dict(params or {}), repeatable, needs_quorum,
                                  doc or (fn.__doc__ or "").strip(), asks, review)
        return fn

    return register


def registry() -> dict[str, StepKind]:
    """Every step kind, with the built-in step modules imported."""
    import vault.ceremony.steps  # noqa: F401  (registers the built-in kinds)

    return REGISTRY
