"""A handful of layout snapshots (PRACTICE data only): dashboard, share entry, share reveal, error.

Deterministic: fixed data (no clock, no ledger hash from this run), no cursor blink, pinned size.
Update with ``pytest tests/console/test_snapshots.py --snapshot-update`` after checking the SVGs.
"""

from __future__ import annotations

from textual.containers import Vertical

from console import views
from console.modals.error import ErrorDialog
from console.modals.share_reveal import ShareRevealScreen
from console.panes.shares import ShareEntryPane
from console.screens.base import VaultScreen
from console.screens.dashboard import DashboardScreen
from snap_harness import PRACTICE_IDENT, PRACTICE_SHARE, Harness
from tui_helpers import share_keys, type_fast
from vault.ceremony.prompts import GroupProgress, MemberRef, QuorumProgress, ShareEntryPrompt, ShareRevealPrompt
from vault.errors import ShareChecksumInvalid
from vault.secret import Secret

SIZE = (80, 24)
COMMON = dict(ceremony_id="generate-key-20260501-093000-abcd", ceremony_name="generate-key", practice=True,
              step_count=7)

DASH = views.DashboardView(
    mode="PRACTICE", home="/home/practice", token=views.TokenView("custodian-practice", "4f1c2d3e5a6b7c8d",
                                                                  "SoftHSM project SoftHSM v2", "AES, EC, RSA; wrap ok"),
    custodians=("alice (custodian)", "bob (custodian)", "carol (custodian)", "admin (administrator)",
                "wendy (witness)"),
    share_set="'main' 2-of-3 · shares start “warmth aquatic”",
    holders=(views.HolderView("alice", "share 1", "2026-05-01 09:12Z"),
             views.HolderView("bob", "share 2", "2026-05-01 09:14Z"),
             views.HolderView("carol", "share 3", "2026-05-01 09:16Z")),
    keys_by_state=(("active", 3), ("deactivated", 1), ("destroyed", 1)),
    last_backup="2026-05-01 09:40Z · 4 keys · /media/usb/vault-2026-05-01.bundle",
    next_drill="2026-07-30 (in 90 days)", ledger_head="#42 9f2c4a1b7e3d5c60…", ledger_count=42,
    ledger_words="rebirth Babylon drifter Geiger facial inertia flagpole Wichita", warnings=("drill: no drill yet",),
)


class StaticDashboard(DashboardScreen):
    def action_refresh(self) -> None:  # fixed data instead of the vault
        self.show(DASH)


class PaneScreen(VaultScreen):
    WHERE = "Ceremony"
    HOLDS_SECRETS = True

    def __init__(self, pane) -> None:
        super().__init__()
        self.pane = pane

    def compose_body(self):
        with Vertical(id="wizard-main"):
            yield self.pane


def entry_prompt(error: tuple[str, str] | None = None) -> ShareEntryPrompt:
    return ShareEntryPrompt(**COMMON, step_index=3, step_id="quorum", step_title="Activate the quorum", ask="share",
                            custodian=None, share_set_name="main", identifying_words=PRACTICE_IDENT,
                            progress=QuorumProgress((GroupProgress(0, 1, 2, 3),), 0, 1, 1),
                            error_code=error[0] if error else None, error_message=error[1] if error else None)


def test_dashboard_snapshot(snap_compare):
    app = Harness(StaticDashboard)

    async def run_before(pilot):
        await pilot.pause()
        app.freeze()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_share_entry_snapshot(snap_compare):
    app = Harness(lambda: PaneScreen(ShareEntryPane(entry_prompt())))

    async def run_before(pilot):
        await pilot.pause()
        app.freeze()
        await type_fast(pilot, share_keys(PRACTICE_SHARE.split()[:9]) + list("wor"))
        app.freeze()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_share_reveal_snapshot(snap_compare):
    prompt = ShareRevealPrompt(**{**COMMON, "ceremony_name": "init"}, step_index=8, step_id="distribute",
                               step_title="Hand out the shares", ask="reveal:alice", custodian="alice",
                               ref=MemberRef(0, 0), share=Secret(PRACTICE_SHARE, "share"),
                               identifying_words=PRACTICE_IDENT, word_count=33)
    app = Harness(lambda: ShareRevealScreen(prompt))
    assert snap_compare(app, terminal_size=SIZE)


def test_error_dialog_snapshot(snap_compare):
    exc = ShareChecksumInvalid("The share starting 'warmth aquatic' fails its checksum: at least one word is wrong.",
                               next_step="Compare every word with the share card and type the share again.")
    app = Harness(lambda: ErrorDialog.from_error(exc))
    assert snap_compare(app, terminal_size=SIZE)
