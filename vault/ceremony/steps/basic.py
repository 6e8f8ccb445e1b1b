"""Step kinds without HSM work: checklists, the air-gap check, who is in the room."""

from __future__ import annotations

from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.prompts import (
    ChecklistPrompt,
    Choice,
    ChoiceAnswer,
    ChoicePrompt,
    ConfirmAnswer,
    ConfirmPrompt,
    TextAnswer,
    TextPrompt,
)
from vault.errors import AnswerInvalid, PreconditionFailed
from vault.types import Role


def _confirmed(answer: ConfirmAnswer) -> bool:
    if not answer.yes:
        raise AnswerInvalid("Every item must be confirmed before the ceremony continues.",
                            next_step="Fix what is missing and confirm, or abort with a reason.")
    return True


@step_kind("checklist", params={"items": ParamSpec("list[str]", required=True, doc="items to confirm, in order")})
def checklist(ctx, params):
    """The administrator reads each item aloud and ticks it; all must be confirmed."""
    yield from ctx.ask(ChecklistPrompt, "checklist", _confirmed, items=tuple(params["items"]))
    return {"summary": f"{len(params['items'])} items confirmed"}


@step_kind("confirm", params={"question": ParamSpec("str", required=True)})
def confirm(ctx, params):
    """A single yes/no question that must be answered yes."""
    yield from ctx.ask(ConfirmPrompt, "confirm", _confirmed, question=params["question"])
    return {"summary": params["question"]}


def _reason(answer: TextAnswer) -> str:
    text = answer.text.strip()
    if len(text) < 10:
        raise AnswerInvalid("An air-gap override needs a reason of at least 10 characters for the ledger.",
                            next_step="Say why the ceremony must run on a connected machine, or abort.")
    return text


@step_kind("environment")
def environment(ctx, params):
    """Check the air gap (vault.environment). Production: an override needs a reason for the ledger."""
    from vault.environment import airgap_report

    report = airgap_report(ctx.options.airgap_root)
    problems = report.problems()
    details = {"ok": report.ok, "problems": problems, "practice": ctx.practice}
    if ctx.practice:
        ctx.ledger("environment.checked", details)
        if problems:
            ctx.notice("PRACTICE: the air gap is not enforced. " + " ".join(problems), "warning")
        return {"summary": "practice: air gap " + ("ok" if report.ok else "not enforced"), "airgap_ok": report.ok}
    if report.ok:
        ctx.ledger("environment.checked", details)
        return {"summary": "air gap ok", "airgap_ok": True}
    reason = ctx.options.airgap_override_reason
    if reason is None:
        reason = yield from ctx.ask(TextPrompt, "override-reason", _reason,
                                    question="The machine is not air-gapped:\n" + "\n".join(problems)
                                    + "\nType the reason to override (it goes to the ledger), or abort.")
    else:
        reason = _reason(TextAnswer(reason))
    ctx.ledger("environment.airgap-override", {**details, "reason": reason})
    ctx.notice("Air-gap override recorded: " + reason, "warning")
    return {"summary": "air gap overridden: " + reason, "airgap_ok": False}


def add_participant(ctx, name: str, role: str) -> list:
    people = list(ctx.values.get("participants", []))
    if not any(p["name"] == name for p in people):
        people.append({"name": name, "role": role})
    return people


@step_kind("participants", params={"roles": ParamSpec("list[str]", default=["administrator", "witness"])})
def participants(ctx, params):
    """Name who holds each role today, from the enrolled people."""
    out: dict = {}
    for role_name in params["roles"]:
        role = Role(role_name)
        people = [c.name for c in ctx.vault.store.list_custodians(role=role)]
        if not people:
            raise PreconditionFailed(f"Nobody is enrolled as {role.value}.",
                                     next_step="Enroll one in an init or reshare ceremony.")
        choices = tuple(Choice(n, n) for n in people)

        def parse(a: ChoiceAnswer, people=people, role=role) -> str:
            if a.value not in people:
                raise AnswerInvalid(f"{a.value!r} is not an enrolled {role.value}.",
                                    next_step=f"Choose one of: {', '.join(people)}.")
            return a.value

        name = yield from ctx.ask(ChoicePrompt, role.value, parse, question=f"Who is the {role.value} today?",
                                  choices=choices, default=people[0])
        out[role.value] = name
        ctx.values[role.value] = name
        out["participants"] = ctx.values["participants"] = add_participant(ctx, name, role.value)
    out["summary"] = ", ".join(f"{r}: {out[r]}" for r in params["roles"])
    return out
