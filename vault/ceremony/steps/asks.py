"""The questions each built-in step kind asks, declared for the script check
(vault.ceremony.script_check): names, answer shapes, which ones every run needs, what default
a script may rely on, and the static check of a single answer.

Keep each declaration next to what its step body asks (vault.ceremony.steps.*): a question
added to a step and not declared here makes scripts that answer it fail their check, which is
the point. A new step kind declares its asks with ``declare_asks(kind, fn)`` (or ``asks=`` in
``@step_kind``); tests/ceremony/test_script_check.py refuses a kind that declares none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vault.ceremony.kinds import Ask, declare_asks
from vault.errors import VaultError


def _problem(fn, *args) -> str | None:
    """The message of the VaultError ``fn`` raises for a bad answer, or None."""
    try:
        fn(*args)
    except VaultError as exc:
        return exc.message.rstrip(".")
    return None


def _base(plan):
    return plan.script.base


def _none(params, plan):
    return ()


for _kind in ("prepare-token", "commit-share-set", "init-token"):
    declare_asks(_kind, _none)


# --- basic ---------------------------------------------------------------------------------------
def _checklist(params, plan):
    return [Ask("checklist", "confirm", required=True, default="checklists",
                check=lambda v: None if v is True else "every checklist item must be confirmed (true)")]


def _confirm(params, plan):
    return [Ask("confirm", "confirm", required=True,
                check=lambda v: None if v is True else "this question must be answered true to go on")]


def _environment(params, plan):
    from vault.ceremony.steps.basic import _reason
    from vault.ceremony.prompts import TextAnswer

    return [Ask("override-reason", "text", check=lambda v: _problem(_reason, TextAnswer(str(v))))]


def _participants(params, plan):
    asks = []
    for role in params["roles"]:
        enrolled = plan.people(role)
        answer = plan.answer(role)
        plan.add_participant(answer)

        def check(v, role=role, enrolled=enrolled):
            if plan.vault is not None and v not in enrolled:
                return f"{v!r} is not an enrolled {role} (enrolled: {', '.join(enrolled) or 'nobody'})"
            return None

        asks.append(Ask(role, "choice", required=True, check=check))
    return asks


declare_asks("checklist", _checklist)
declare_asks("confirm", _confirm)
declare_asks("environment", _environment)
declare_asks("participants", _participants)


# --- people and the policy ---------------------------------------------------------------------------
def _policy(params, plan):
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.people import _days, parse_policy

    text = plan.answer("policy")
    passphrase = plan.answer("passphrase") if params["ask_passphrase"] else False
    try:
        plan.facts["policy"] = parse_policy(str(text), bool(passphrase)) if text is not None else None
    except VaultError:
        plan.facts["policy"] = None
    plan.facts["slip39_passphrase"] = passphrase is True
    asks = [Ask("policy", "text", required=True, check=lambda v: _problem(parse_policy, str(v))),
            Ask("drill-interval-days", "text", required=True, check=lambda v: _problem(_days, TextAnswer(str(v))))]
    if params["ask_passphrase"]:
        asks.append(Ask("passphrase", "confirm", required=True))
    return asks


def _enroll(params, plan):
    from vault.identity import normalise_name

    def check_name(v):
        try:
            normalise_name(str(v))
        except VaultError as exc:
            return exc.message.rstrip(".")
        if plan.vault is not None and not params["existing"] and str(v).strip() in _all_people(plan):
            return f"{str(v).strip()} is already enrolled"
        return None

    if params["role"] != "custodian":
        suffixes = [""]
    else:
        policy = plan.facts.get("policy")
        total = sum(g.count for g in policy.groups) if policy is not None else 0
        suffixes = [f":{i}" for i in range(1, total + 1)]
    asks = [Ask("name:*", "text", check=check_name), Ask("passphrase:*", "secret")] if params["role"] == "custodian" else []
    for suffix in suffixes:
        name = plan.answer("name" + suffix)
        plan.add_participant(name)
        person = str(name).strip() if isinstance(name, (str, int)) else None
        new_person = person is not None and person not in _all_people(plan)
        asks.append(Ask("name" + suffix, "text", required=True, check=check_name))
        asks.append(Ask("passphrase" + suffix, "secret", required=new_person,
                        default=f"passphrase:{person}" if person else None))
    return asks


def _all_people(plan) -> set[str]:
    if plan.vault is None:
        return set()
    return {c.name for c in plan.vault.store.list_custodians()}


declare_asks("policy", _policy)
declare_asks("enroll", _enroll)


# --- the quorum ---------------------------------------------------------------------------------------
def _quorum(params, plan):
    needs_passphrase = False
    if plan.vault is not None:
        record = plan.vault.store.active_share_set()
        needs_passphrase = bool(record is not None and record.passphrase)
    return [Ask("share", "share", required=True), Ask("slip39-passphrase", "secret", required=needs_passphrase)]


def _new_quorum(params, plan):
    return [Ask("slip39-passphrase", "secret", required=bool(plan.facts.get("slip39_passphrase")))]


def _distribute(params, plan):
    return [Ask("ready:*", "confirm", default="always"), Ask("reveal:*", "confirm", default="always"),
            Ask("verify:*", "share-verify", default="share_dir")]


declare_asks("quorum", _quorum)
declare_asks("new-quorum", _new_quorum)
declare_asks("distribute-shares", _distribute)


# --- keys and files --------------------------------------------------------------------------------------
def _out(plan):
    from vault.ceremony.script_check import output_path_problem

    return lambda v: output_path_problem(str(v), _base(plan))


def _in(plan, *, allow_latest: bool = False):
    from vault.ceremony.script_check import input_path_problem

    return lambda v: input_path_problem(str(v), _base(plan), allow_latest=allow_latest)


def _key_check(plan, states: tuple[str, ...] | None, *, signing: bool = False):
    """The chosen key exists (in the vault, or made by an earlier step of this run) in a usable state."""
    new_keys, keys_change = set(plan.facts["new_keys"]), plan.facts["keys_change"]  # as of this step

    def check(v: Any):
        if plan.vault is None:
            return None
        keys = {k.label: k for k in plan.keys()}
        if v in new_keys or str(v).partition("@")[0] in new_keys:
            return None
        k = _resolve(plan, v, states)
        if k is None:
            if keys_change:
                return None  # an earlier step of this run changes the keys: the step itself decides
            return f"there is no key labelled {v!r} (keys: {', '.join(sorted(keys)) or 'none'})"
        if states is not None and k.state.value not in states and not keys_change:
            return f"key {v!r} is {k.state.value}; this step takes a key that is {' or '.join(states)}"
        if signing and not k.algorithm.can_sign:
            return f"key {v!r} is {k.algorithm.value}, which does not sign"
        return None
    return check


def _resolve(plan, v: Any, states: tuple[str, ...] | None = None):
    """The key ``v`` names (a label, NAME or NAME@VERSION), preferring one in ``states``; None if none."""
    from vault.ceremony.steps.keys import pick_key

    every = list(plan.keys())
    usable = [k for k in every if states is None or k.state.value in states]
    for candidates in (usable, every):
        try:
            return pick_key(candidates, str(v))
        except VaultError:
            continue
    return None


def _generate(params, plan):
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.keys import _algorithm, _backup_choice, _key_name, _why
    from vault.types import KeyAlgorithm

    allowed = [KeyAlgorithm(a) for a in params["algorithms"]]
    backup = plan.answer("backup")
    label = plan.answer("label")
    if isinstance(label, str):
        plan.facts["new_keys"].add(label.strip())

    def check_label(v):
        problem = _problem(_key_name, str(v))
        if problem is None and str(v).strip() in {k.label for k in plan.keys()}:
            return f"a key labelled {str(v).strip()!r} already exists; choose a label no key uses"
        return problem

    return [Ask("label", "text", required=True, check=check_label),
            Ask("algorithm", "choice", required=True, check=lambda v: _problem(_algorithm, str(v), allowed)),
            Ask("backup", "choice", required=True, check=lambda v: _problem(_backup_choice, str(v))),
            Ask("no-backup-reason", "text", required=backup == "no-backup",
                check=lambda v: _problem(_why, TextAnswer(str(v))))]


def _backup(params, plan):
    return [Ask("path", "path-out", required=True, check=_out(plan))]


def _verify_bundle(params, plan):
    plan.facts["bundle_verified"] = True
    return [Ask("bundle", "path-in", required=True, check=_in(plan))]


def _restore(params, plan):
    ask = Ask("bundle", "path-in", required=not plan.facts.get("bundle_verified"), check=_in(plan))
    plan.facts["keys_change"] = True
    return [ask]


def _drill(params, plan):
    return [Ask("bundle", "path-in", required=True, check=_in(plan, allow_latest=True))]


def _rotate(params, plan):
    ask = Ask("key", "choice", required=True, check=_key_check(plan, ("active",)))
    plan.facts["keys_change"] = True
    return [ask]


def _destroy(params, plan):
    key = plan.answer("key")
    live = ("pre-activation", "active", "suspended", "deactivated", "compromised")
    chosen = _resolve(plan, key, live) if isinstance(key, str) and plan.vault is not None else None
    label = chosen.label if chosen is not None else key
    asks = [Ask("key", "choice", required=True, check=_key_check(plan, live)),
            Ask("confirm-label", "typed", required=True,
                check=lambda v: None if not isinstance(label, str) or v == label
                else f"the typed label {v!r} is not the label of the key chosen at 'key' ({label!r}); "
                     "nothing would be destroyed")]
    plan.facts["keys_change"] = True
    return asks


def _compromise(params, plan):
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.keys import _why

    asks = [Ask("key", "choice", required=True,
                check=_key_check(plan, ("pre-activation", "active", "suspended", "deactivated"))),
            Ask("reason", "text", required=True, check=lambda v: _problem(_why, TextAnswer(str(v))))]
    plan.facts["keys_change"] = True
    return asks


def _reshare_commit(params, plan):
    return [Ask("path", "path-out", required=True, check=_out(plan))]


def _sign(params, plan):
    return [Ask("key", "choice", required=True, check=_key_check(plan, ("active",), signing=True)),
            Ask("payload", "path-in", required=True, check=_in(plan)),
            Ask("signature", "path-out", required=True, check=_out(plan))]


def _attest(params, plan):
    asks = [Ask("attest:*", "attest")]
    for person in plan.facts["participants"]:
        asks.append(Ask(f"attest:{person}", "attest", required=True, default=f"attest:{person}"))
    return asks


def _why_ask(name: str = "reason") -> Ask:
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.keys import _why

    return Ask(name, "text", required=True, check=lambda v: _problem(_why, TextAnswer(str(v))))


def _plan_key(params, plan):
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.keys import _key_name
    from vault.ceremony.steps.lifecycle import _date, _days

    name = plan.answer("name")
    if isinstance(name, str):
        plan.facts["new_keys"].add(name.strip())
    return [Ask("name", "text", required=True, check=lambda v: _problem(_key_name, str(v))),
            Ask("algorithm", "choice", required=True), Ask("purpose", "choice", required=True),
            Ask("activate-after", "text", required=True, check=lambda v: _problem(_date, TextAnswer(str(v)))),
            Ask("cryptoperiod", "text", required=True, check=lambda v: _problem(_days, TextAnswer(str(v))))]


def _transition(*states: str):
    def asks(params, plan):
        result = [Ask("key", "choice", required=True, check=_key_check(plan, states)), _why_ask()]
        plan.facts["keys_change"] = True
        return result
    return asks


def _revoke(params, plan):
    asks = [Ask("key", "choice", required=True,
                check=_key_check(plan, ("pre-activation", "active", "suspended", "deactivated"))),
            Ask("reason", "choice", required=True), _why_ask("note")]
    if params["statement"]:
        asks += [Ask("signer", "choice", required=True, check=_key_check(plan, ("active",), signing=True)),
                 Ask("statement", "path-out", required=True, check=_out(plan))]
    plan.facts["keys_change"] = True
    return asks


def _encrypt(params, plan):
    return [Ask("key", "choice", required=True, check=_key_check(plan, ("active",))),
            Ask("input", "path-in", required=True, check=_in(plan)),
            Ask("output", "path-out", required=True, check=_out(plan))]


def _files(params, plan):
    return [Ask("input", "path-in", required=True), Ask("output", "path-out", required=True, check=_out(plan))]


def _min_version(params, plan):
    return [Ask("key", "choice", required=True, check=_key_check(plan, ("active",))),
            Ask("version", "text", required=True, check=lambda v: None if str(v).isdigit() else "a version number")]


def _pin_peer(params, plan):
    return [Ask("own-name", "text", required=True), Ask("peer", "text", required=True),
            Ask("public-key", "path-in", required=True, check=_in(plan)), Ask("confirm", "confirm", required=True)]


def _import_request(params, plan):
    return [Ask("signer", "choice", required=True, check=_key_check(plan, ("active",), signing=True)),
            Ask("request", "path-out", required=True, check=_out(plan))]


def _transport_key(params, plan):
    return [Ask("request", "path-in", required=True, check=_in(plan)),
            Ask("confirm-fingerprint", "confirm", required=True),
            Ask("key", "choice", required=True, check=_key_check(plan, ("active",))),
            Ask("signer", "choice", required=True, check=_key_check(plan, ("active",), signing=True)),
            Ask("output", "path-out", required=True, check=_out(plan))]


def _import_key(params, plan):
    plan.facts["keys_change"] = True
    return [Ask("transport", "path-in", required=True, check=_in(plan)),
            Ask("confirm-fingerprint", "confirm", required=True)]


for _kind, _fn in (("pin-peer", _pin_peer), ("import-request", _import_request), ("transport-key", _transport_key),
                   ("import-key", _import_key)):
    declare_asks(_kind, _fn)


for _kind, _fn in (("encrypt", _encrypt), ("decrypt", _files), ("rewrap", _files),
                   ("min-decryption-version", _min_version)):
    declare_asks(_kind, _fn)


for _kind, _fn in (("plan-key", _plan_key), ("activate-key", _transition("pre-activation")),
                   ("suspend-key", _transition("active")), ("reactivate-key", _transition("suspended")),
                   ("deactivate-key", _transition("active", "suspended")), ("revoke-key", _revoke)):
    declare_asks(_kind, _fn)


for _kind, _fn in (("generate-key", _generate), ("backup", _backup), ("verify-bundle", _verify_bundle),
                   ("restore", _restore), ("drill", _drill), ("rotate-key", _rotate), ("destroy-key", _destroy),
                   ("compromise-key", _compromise), ("reshare-commit", _reshare_commit), ("sign", _sign),
                   ("attest", _attest)):
    declare_asks(_kind, _fn)


# --- PKI (vault.ceremony.steps.pki) -------------------------------------------------------------------
def _dir_in(plan):
    def check(v):
        path = _base(plan) / str(v) if not str(v).startswith("/") else Path(str(v))
        return None if path.is_dir() and any(path.glob("*.csr")) else f"{path} is not a directory holding *.csr files"
    return check


def _dir_out(plan):
    def check(v):
        path = _base(plan) / str(v) if not str(v).startswith("/") else Path(str(v))
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            return f"{path} exists and is not an empty directory"
        if not path.parent.is_dir():
            return f"the directory {path.parent} does not exist"
        return None
    return check


def _pki_root(params, plan):
    from vault.ceremony.prompts import TextAnswer
    from vault.ceremony.steps.pki import _same_subject_reason

    return [Ask("key", "choice", required=True, check=_key_check(plan, ("active", "pre-activation"), signing=True)),
            Ask("path", "path-out", required=True, check=_out(plan)),
            Ask("same-subject-reason", "text", check=lambda v: _problem(_same_subject_reason, TextAnswer(str(v))))]


def _pki_csr(params, plan):
    return [Ask("issuer", "choice", required=True), Ask("csr", "path-in", required=True, check=_in(plan)),
            Ask("path", "path-out", required=True, check=_out(plan))]


def _pki_cross(params, plan):
    return [Ask("issuer", "choice", required=True), Ask("certificate", "path-in", required=True, check=_in(plan)),
            Ask("path", "path-out", required=True, check=_out(plan))]


def _pki_key(params, plan):
    return [Ask("issuer", "choice", required=True),
            Ask("key", "choice", required=True, check=_key_check(plan, ("active", "pre-activation"), signing=True)),
            Ask("path", "path-out", required=True, check=_out(plan))]


def _pki_crl(params, plan):
    return [Ask("issuer", "choice", required=True), Ask("revoke", "text", required=True),
            Ask("path", "path-out", required=True, check=_out(plan))]


def _pki_batch(params, plan):
    return [Ask("issuer", "choice", required=True), Ask("csr-dir", "text", required=True, check=_dir_in(plan)),
            Ask("out-dir", "text", required=True, check=_dir_out(plan))]


for _kind, _fn in (("root-certificate", _pki_root), ("sign-csr", _pki_csr), ("cross-certificate", _pki_cross),
                   ("key-certificate", _pki_key), ("crl", _pki_crl), ("sign-csr-batch", _pki_batch)):
    if _kind in __import__("vault.ceremony.kinds", fromlist=["REGISTRY"]).REGISTRY:
        declare_asks(_kind, _fn)
