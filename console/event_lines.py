"""One line of the wizard's log per engine event (events never carry a secret)."""

from __future__ import annotations

from vault.ceremony import events as ev


def log_line(e: ev.Event) -> str | None:
    """The log line for ``e``, or None for events shown elsewhere (progress)."""
    if isinstance(e, ev.StepStarted):
        return f"▶ step {e.step_index}: {e.title}"
    if isinstance(e, ev.StepFinished):
        return f"✓ step {e.step_index} {e.outcome}"
    if isinstance(e, ev.Notice):
        return f"{'⚠' if e.level == 'warning' else 'ℹ'} {e.message}"
    if isinstance(e, ev.ReadAloud):
        return f"READ ALOUD {e.title}: {e.text}"
    if isinstance(e, ev.AnswerRejected):
        return f"✗ {e.code}: {e.message}"
    if isinstance(e, ev.ShareAccepted):
        return f"share accepted{' from ' + e.custodian if e.custodian else ''}: {e.progress.describe()}"
    if isinstance(e, ev.QuorumActivated):
        return f"quorum activated ({e.share_set_name})"
    if isinstance(e, ev.QuorumWiped):
        return f"quorum wiped ({e.reason})"
    if isinstance(e, ev.ShareVerified):
        return f"share of {e.custodian} verified"
    if isinstance(e, ev.ShareSetCommitted):
        return f"share set {e.share_set_name} committed ({e.policy}), shares start “{e.identifying_words}”"
    if isinstance(e, ev.DeviationRecorded):
        return f"deviation recorded at {e.step_id}"
    if isinstance(e, ev.Attested):
        return f"{e.participant} {'attested' if e.agree else 'did NOT agree'}"
    if isinstance(e, ev.CeremonyCompleted):
        return f"completed; ledger head {e.ledger_head_hex[:16]}… {e.ledger_head_words}"
    if isinstance(e, ev.CeremonyAborted):
        return f"ABORTED: {e.reason}"
    if isinstance(e, ev.CeremonyFailed):
        return f"FAILED {e.code}: {e.message}"
    return None
