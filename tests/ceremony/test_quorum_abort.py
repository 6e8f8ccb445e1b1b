"""A ceremony that stops during quorum entry says that the partial quorum was wiped."""

from __future__ import annotations

from support.ceremony_workspace import Workspace
from vault.ceremony.events import QuorumWiped


def test_running_out_of_shares_mid_quorum_wipes_and_reports_the_partial_quorum(ws: Workspace):
    ws.replay("init")
    events = []
    script = ws.variant("generate-key", answers={"quorum.share": [{"share": "file:shares/alice.share"}]})
    result = ws.run("generate-key", script, on_event=events.append)
    assert not result.ok and "QUORUM_INCOMPLETE" in result.one_line()
    wiped = [e.reason for e in events if isinstance(e, QuorumWiped)]
    assert wiped == ["abort"]
