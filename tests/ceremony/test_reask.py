"""The engine's rule for every prompt kind: an input mistake re-asks the same question with the
reason; only an explicit abort ends a ceremony (issue 11, item 1).

Every example ceremony is replayed in order on a practice home (real SoftHSM, real SQLite), and
at every question it asks, a mistake is made first (the witness's name typed as a custodian, an
empty label, a path that does not exist, a wrong passphrase, a share of nonsense, an unticked
checklist, a choice that is not offered, ...). Each mistake must come back as the same question
with an error code and message, nothing recorded, and the ceremony must then complete with the
script's real answers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from support.ceremony_workspace import ORDER, Workspace
from vault.ceremony.prompts import (
    AttestationAnswer,
    ChoiceAnswer,
    ConfirmAnswer,
    PathPurpose,
    Prompt,
    SecretAnswer,
    ShareAnswer,
    TextAnswer,
    VerifyMode,
    WitnessAnswer,
)
from vault.secret import Secret


def mistake_for(prompt: Prompt, root: Path):
    """A wrong answer to ``prompt`` that a person could give, or None where no answer is wrong."""
    kind, ask = prompt.KIND, prompt.ask
    if kind in ("checklist", "share-ready", "share-reveal"):
        return ConfirmAnswer(False)
    if kind == "choice":
        return ChoiceAnswer("not-one-of-the-choices")
    if kind == "typed-confirm":
        return TextAnswer(prompt.expected + "x")
    if kind == "text":
        if ask.startswith("name:"):  # a custodian: the witness's name (already enrolled as witness)
            return TextAnswer("wendy")
        if ask == "name" and "witness" in prompt.question:
            return TextAnswer("admin")  # the administrator, enrolled a moment ago
        if ask == "label" or (ask == "name" and "key" in prompt.question):
            return TextAnswer("root 2026!")  # a key name with a space: refused at the question, not after review
        if ask == "revoke":  # crl: a serial this CA never issued (an empty answer ends the list)
            return TextAnswer("0badc0de key-compromise")
        return TextAnswer("")
    if kind == "path":
        if prompt.purpose is PathPurpose.INPUT_FILE:
            return TextAnswer(str(root / "no-such-file.ccb"))
        return TextAnswer(str(root / "payload.txt"))  # exists: never overwritten
    if kind == "passphrase":
        if ask == "slip39-passphrase":
            return None
        return SecretAnswer(Secret("short", "passphrase"))  # too short (new) or wrong (existing)
    if kind == "share-entry":
        return ShareAnswer(Secret("academic acid acne", "share"))
    if kind == "share-verify":
        junk = Secret("academic acid acne", "share")
        return ShareAnswer(junk) if prompt.mode is VerifyMode.FULL else SecretAnswer(junk)
    if kind == "witness":
        return WitnessAnswer(False, None)
    if kind == "attestation":
        return AttestationAnswer(True, Secret("not-the-passphrase-at-all", "passphrase"))
    return None  # yes/no questions: either answer is a real answer


class MistakeFirst:
    """Wraps the script responder: the first time each question is asked, answer it wrongly."""

    def __init__(self, inner, root: Path) -> None:
        self.inner = inner
        self.root = root
        self.tried: set[tuple[str, str]] = set()
        self.waiting: tuple[str, str] | None = None  # the question a mistake was just given to
        self.reasked: list[tuple[str, str, str]] = []
        self.not_reasked: list[str] = []

    def on_event(self, event) -> None:
        self.inner.on_event(event)

    def answer(self, prompt: Prompt):
        key = (prompt.step_id, prompt.ask)
        if self.waiting is not None:
            if key == self.waiting and prompt.error_code:
                self.reasked.append((*key, prompt.error_code))
                prompt = dataclasses.replace(prompt, error_code=None, error_message=None)
            else:
                self.not_reasked.append(f"{'.'.join(self.waiting)} -> next asked {'.'.join(key)}")
            self.waiting = None
        elif key not in self.tried:
            wrong = mistake_for(prompt, self.root)
            self.tried.add(key)
            if wrong is not None:
                self.waiting = key
                return wrong
        return self.inner.answer(prompt)


def run_with_mistakes(ws: Workspace, name: str) -> MistakeFirst:
    from vault.ceremony.definitions import find_definition
    from vault.ceremony.engine import Engine
    from vault.ceremony.runner import drive
    from vault.ceremony.script import ScriptResponder, load_script, script_options

    path = ws.root / f"{name}.toml"
    with ws.vault() as vault:
        definition = find_definition(name, vault.home.path)
        script = load_script(path, definition)
        engine = Engine(vault, definition, options=script_options(script, kdf_profile="fast-for-tests"))
        responder = MistakeFirst(ScriptResponder(script), ws.root)
        outcome = drive(engine, responder)
    assert not responder.not_reasked, responder.not_reasked
    assert outcome.ok, f"{name}: {outcome.one_line()} (failure: {responder.inner.failure})"
    return responder


@pytest.mark.slow
def test_every_question_of_every_ceremony_forgives_a_mistake(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "ws", monkeypatch)
    codes = {}
    for name in ORDER:
        if name == "restore":
            ws.lose_token()
        responder = run_with_mistakes(ws, name)
        assert responder.reasked, f"{name}: no mistake was tried"
        codes[name] = {f"{s}.{a}": c for s, a, c in responder.reasked}
    # the cases of the issue, by name
    assert codes["init"]["custodians.name:1"] == "ANSWER"  # the witness typed as a custodian
    assert codes["generate-key"]["generate.label"] in ("ANSWER", "LABEL_INVALID")
    assert codes["drill"]["drill.bundle"]
    assert codes["sign"]["sign.payload"] == "PAYLOAD_UNREADABLE"  # a payload is not called a bundle
    with ws.vault() as v:
        assert v.ledger.verify().ok


def test_every_question_of_the_pki_ceremonies_forgives_a_mistake(tmp_path, monkeypatch):
    """A wrong CSR path, a CSR directory that does not exist, an output that would overwrite a
    file, a serial the CA never issued, an issuer not offered, a key name with a space: each is
    asked again with the reason, and the PKI ceremonies then complete."""
    from support.ceremony_workspace import PKI_ORDER

    ws = Workspace(tmp_path / "ws", monkeypatch)
    ws.run_ok("init")
    asked = []
    for name in PKI_ORDER:
        asked += [(name, *r) for r in run_with_mistakes(ws, name).reasked]
    codes = {(name, step, ask): code for name, step, ask, code in asked}
    assert codes[("root-ca", "generate", "label")] == "LABEL_INVALID"
    assert codes[("intermediate", "intermediate", "csr")] == "PKI_CSR_INVALID"
    assert ("crl", "crl", "revoke") in codes and ("issue-batch", "batch", "csr-dir") in codes
    assert ("ocsp-signer", "ocsp", "issuer") in codes
