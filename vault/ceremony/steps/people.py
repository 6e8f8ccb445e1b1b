"""Step kinds that set the quorum policy and enroll people (vault.identity)."""

from __future__ import annotations

import re

from vault.ceremony.kinds import ParamSpec, step_kind
from vault.ceremony.prompts import ConfirmAnswer, ConfirmPrompt, PassphrasePrompt, SecretAnswer, TextAnswer, TextPrompt
from vault.ceremony.steps.basic import add_participant
from vault.errors import AnswerInvalid, PolicyInvalid, RecordNotFound, VaultError
from vault.shares import GroupSpec, QuorumPolicy
from vault.types import Role

_SIMPLE = re.compile(r"^\s*(\d+)\s*-?\s*of\s*-?\s*(\d+)\s*$", re.I)
_GROUPS = re.compile(r"^\s*(\d+)\s*of\s*:\s*(.+)$", re.I)


def parse_policy(text: str, passphrase: bool = False) -> QuorumPolicy:
    """``3-of-5`` (one group), or ``2 of: 3-of-5, 2-of-3`` (two-level: 2 of these groups)."""
    m = _SIMPLE.match(text)
    if m:
        policy = QuorumPolicy.simple(int(m.group(1)), int(m.group(2)), passphrase=passphrase)
    else:
        g = _GROUPS.match(text)
        if not g:
            raise PolicyInvalid(f"{text.strip()!r} is not a policy.",
                                next_step="Write m-of-n (e.g. 3-of-5) or groups (e.g. 2 of: 3-of-5, 2-of-3).")
        groups = []
        for part in g.group(2).split(","):
            pm = _SIMPLE.match(part)
            if not pm:
                raise PolicyInvalid(f"{part.strip()!r} is not a group (m-of-n).",
                                    next_step="Write each group as m-of-n, separated by commas.")
            groups.append(GroupSpec(int(pm.group(1)), int(pm.group(2))))
        policy = QuorumPolicy(int(g.group(1)), tuple(groups), passphrase)
    policy.validate()
    return policy


def policy_to_dict(policy: QuorumPolicy) -> dict:
    return {"group_threshold": policy.group_threshold, "groups": [[g.threshold, g.count] for g in policy.groups],
            "passphrase": policy.passphrase, "iteration_exponent": policy.iteration_exponent}


def policy_from_dict(d: dict) -> QuorumPolicy:
    return QuorumPolicy(d["group_threshold"], tuple(GroupSpec(m, n) for m, n in d["groups"]), d["passphrase"],
                        d["iteration_exponent"])


def _days(a: TextAnswer) -> int:
    if not a.text.strip().isdigit() or not 1 <= int(a.text) <= 3650:
        raise AnswerInvalid("The drill interval is a whole number of days, 1 to 3650.", next_step="Type e.g. 90.")
    return int(a.text)


@step_kind("policy", params={"ask_passphrase": ParamSpec("bool", default=True)})
def policy(ctx, params):
    """Choose the quorum: m-of-n (or groups), SLIP-39 passphrase or not, drill interval."""
    text_policy = yield from ctx.ask(TextPrompt, "policy", lambda a: parse_policy(a.text),
                                     question="Quorum policy: m-of-n (e.g. 3-of-5), or groups (2 of: 3-of-5, 2-of-3)",
                                     pattern=None)
    passphrase = False
    if params["ask_passphrase"]:
        passphrase = yield from ctx.ask(ConfirmPrompt, "passphrase", lambda a: a.yes,
                                        question="Protect the shares with a SLIP-39 passphrase as well?")
    chosen = QuorumPolicy(text_policy.group_threshold, text_policy.groups, passphrase)
    days = yield from ctx.ask(TextPrompt, "drill-interval-days", _days,
                              question="Drill a restore every how many days?", default="90")
    ctx.ledger("policy.chosen", {"policy": chosen.describe(), "drill_interval_days": days})
    return {"policy": policy_to_dict(chosen), "drill_interval_days": days,
            "summary": f"policy {chosen.describe()}, drill every {days} days"}


def kdf_for(ctx):
    from vault.identity import KdfParams

    profile = ctx.options.kdf_profile or ctx.vault.home.config.kdf_profile
    return {"default": KdfParams.default, "practice": KdfParams.practice,
            "fast-for-tests": KdfParams.fast_for_tests}.get(profile, KdfParams.default)()


def _name(existing_ok: bool, taken: set[str], store, role: Role):
    def parse(a: TextAnswer) -> tuple[str, bool]:
        from vault.identity import normalise_name

        try:
            name = normalise_name(a.text)
        except VaultError:
            raise
        except ValueError as exc:
            raise AnswerInvalid(f"{exc}.", next_step="Type the person's name.") from None
        if name.lower() in taken:
            raise AnswerInvalid(f"{name} was already named in this step.", next_step="Type another person's name.")
        try:
            record = store.get_custodian(name)
        except RecordNotFound:
            record = None
        if record is not None and not existing_ok:
            raise AnswerInvalid(f"{name} is already enrolled.", next_step="Type a name not yet enrolled.")
        if record is not None and record.role is not role:  # checked here, so the question is asked again
            raise AnswerInvalid(f"{record.name} is enrolled as {record.role.value}, not {role.value}.",
                                next_step=f"Type the name of the {role.value}.")
        return name, record is not None
    return parse


def _passphrase(a: SecretAnswer):
    from vault.identity import MIN_PASSPHRASE_LENGTH

    if len(a.secret) < MIN_PASSPHRASE_LENGTH:
        from vault.errors import PassphraseTooShort

        raise PassphraseTooShort(f"A passphrase has at least {MIN_PASSPHRASE_LENGTH} characters.")
    return a.secret


def enroll_one(ctx, role: Role, ask_suffix: str, *, existing_ok: bool, taken: set[str]):
    """Ask a name (and, for someone new, a passphrase twice); store the enrollment. Returns the name."""
    from vault.identity import enroll

    from vault.ceremony.context import BACK

    previous = None
    while True:
        name, exists = yield from ctx.ask(TextPrompt, "name" + ask_suffix, _name(existing_ok, taken, ctx.vault.store, role),
                                          question=f"Name of the {role.value}" + (f" #{ask_suffix[1:]}" if ask_suffix else ""),
                                          previous=previous)
        if exists:
            taken.add(name.lower())
            return ctx.vault.store.get_custodian(name).name
        # Back from the passphrase to the name (a typo) even after earlier people were enrolled:
        # nothing of this person is stored before the passphrase is in.
        passphrase = yield from ctx.ask(PassphrasePrompt, "passphrase" + ask_suffix, _passphrase, custodian=name,
                                        purpose="to protect the key you sign your attestations with", new=True, local_back=True)
        if passphrase is not BACK:
            break
        previous = name
    taken.add(name.lower())
    try:
        e = enroll(name, role, passphrase, kdf=kdf_for(ctx))
    finally:
        passphrase.wipe()
    ctx.vault.store.add_custodian(e.name, e.role, e.public_key_pem, e.verifier, e.kdf.to_dict(), e.encrypted_key,
                                  ceremony_id=ctx.ceremony_id)
    ctx.ledger("custodian.enrolled", {"name": e.name, "role": e.role.value, "fingerprint": e.fingerprint})
    from vault.pgpwords import words_for

    ctx.read_aloud(f"{e.name}'s key fingerprint",
                   f"{e.fingerprint} ({' '.join(words_for(bytes.fromhex(e.fingerprint.split(':', 1)[1])[:8]))})")
    return e.name


@step_kind("enroll", params={
    "role": ParamSpec("str", required=True, choices=("administrator", "witness", "custodian")),
    "existing": ParamSpec("bool", default=False, doc="custodians: reuse people already enrolled (reshare)"),
}, repeatable=False)
def enroll_step(ctx, params):
    """Enroll the administrator, the witness, or one custodian per share of the chosen policy."""
    role = Role(params["role"])
    taken: set[str] = set()
    if role is not Role.CUSTODIAN:
        name = yield from enroll_one(ctx, role, "", existing_ok=params["existing"], taken=taken)
        ctx.values[role.value] = name
        return {role.value: name, "participants": add_participant(ctx, name, role.value),
                "summary": f"{role.value}: {name}"}
    pol = policy_from_dict(ctx.values["policy"])
    total = sum(g.count for g in pol.groups)
    names = []
    for i in range(1, total + 1):
        name = yield from enroll_one(ctx, role, f":{i}", existing_ok=params["existing"], taken=taken)
        names.append(name)
    return {"custodians": names, "summary": f"{len(names)} custodians: {', '.join(names)}"}


def confirm_yes(a: ConfirmAnswer) -> bool:
    return a.yes
