"""generate-key on a token that cannot back up Ed25519 (SoftHSM 2.6): the refusal is shown with
the repeated algorithm question, and an explicit no-backup decision is recorded."""

from __future__ import annotations

from support.ceremony_workspace import Workspace
from vault.ceremony.events import AnswerRejected
from vault.ceremony.script import ScriptResponder


def test_ed25519_with_backup_is_refused_and_the_question_repeats_with_the_reason(ws: Workspace, monkeypatch):
    ws.replay("init")
    events, prompts = [], []
    answer = ScriptResponder.answer

    def seen(self, prompt):  # record every prompt the script is asked, then answer as scripted
        prompts.append(prompt)
        return answer(self, prompt)

    monkeypatch.setattr(ScriptResponder, "answer", seen)
    script = ws.variant("generate-key", answers={
        "generate.label": "edge-2026",
        "generate.algorithm": ["ed25519", "ec-p256"],
        "generate.backup": ["backup", "backup"],
        "backup.path": "media/edge.ccb",
    })
    result = ws.run("generate-key", script, on_event=events.append)
    assert result.ok, result.one_line()
    refused = [e for e in events if isinstance(e, AnswerRejected)]
    assert [e.code for e in refused] == ["HSM_NOT_WRAPPABLE"]
    asked = [p for p in prompts if p.step_id == "generate" and p.ask == "algorithm"]
    assert [p.error_code for p in asked] == [None, "HSM_NOT_WRAPPABLE"]
    assert "ed25519" in asked[1].error_message and "backed up" in asked[1].error_message
    with ws.vault() as vault:
        key = vault.store.get_key_by_label("edge-2026")
        assert key.algorithm.value == "ec-p256"


def test_ed25519_without_backup_needs_and_records_a_reason(ws: Workspace):
    ws.replay("init")
    script = ws.variant("generate-key", answers={
        "generate.label": "edge-2026",
        "generate.algorithm": "ed25519",
        "generate.backup": "no-backup",
        "generate.no-backup-reason": "device attestation key; re-issued, never restored",
        "backup.path": "media/edge.ccb",
    })
    result = ws.run("generate-key", script)
    assert result.ok, result.one_line()
    with ws.vault() as vault:
        key = vault.store.get_key_by_label("edge-2026")
        assert key.algorithm.value == "ed25519" and key.backup.value == "no-backup"
        assert key.no_backup_reason == "device attestation key; re-issued, never restored"
        actions = [e for e in vault.ledger.events() if e.ceremony_id == result.outcome.ceremony_id]
        assert any("device attestation key" in str(e.details) for e in actions)
