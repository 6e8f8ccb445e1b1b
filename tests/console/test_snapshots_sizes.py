"""Layout snapshots at 80x24 and 100x30 (issue 11): the dashboard, a ceremony step, share entry with
an error pointing to a word, the review before an irreversible step, an attestation, and the
end-of-ceremony summary. PRACTICE data only, fixed values, no cursor blink.

Update with ``pytest tests/console/test_snapshots_sizes.py --snapshot-update`` after looking at
the SVGs.
"""

from __future__ import annotations

import pytest
from shamir_mnemonic import Share
from shamir_mnemonic.wordlist import WORDLIST
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.panes.people import AttestationPane
from console.panes.shares import ShareEntryPane
from console.screens.wizard import WizardScreen
from console.summary import SummaryView
from snap_harness import PRACTICE_IDENT, PRACTICE_SHARE, Harness
from test_snapshots import COMMON, PaneScreen, StaticDashboard
from tui_helpers import share_keys, type_fast
from vault.ceremony.prompts import (AttestationPrompt, GroupProgress, QuorumProgress, ReviewItem, ReviewPrompt,
                                     ShareEntryPrompt, TextPrompt)
from vault.shares import GroupSpec, ShareRef, ShareSetPublic
from vault.shares.entry import EntryGuide
from vault.shares.parse import commitment

SIZES = [(80, 24), (100, 30)]
HEAD = "9f2c4a1b7e3d5c60" * 4
SALT = "00" * 16


def practice_guide() -> EntryGuide:
    share = Share.from_mnemonic(PRACTICE_SHARE)
    public = ShareSetPublic(identifier=share.identifier, iteration_exponent=share.iteration_exponent,
                            group_threshold=1, groups=(GroupSpec(share.member_threshold, 3),), commitment_salt=SALT,
                            commitments=((ShareRef(0, share.index), commitment(SALT, PRACTICE_SHARE)),),
                            check_value="00" * 32, extendable=share.extendable)
    return EntryGuide(public, "main", ((ShareRef(0, share.index), "alice"),))


def freeze_after(app, keys=()):
    async def run_before(pilot):
        await pilot.pause()
        app.freeze()
        if keys:
            await type_fast(pilot, list(keys))
        await pilot.pause()
        app.freeze()
    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard(snap_compare, size):
    app = Harness(StaticDashboard)
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app))


class StaticWizard(WizardScreen):
    """The real wizard screen, fed one fixed prompt instead of an engine."""

    def __init__(self, ceremony: str, prompt=None) -> None:
        super().__init__(ceremony)
        self.fixed_prompt = prompt

    def _drive(self) -> None:
        pass

    def on_mount(self) -> None:
        super().on_mount()
        self._set_titles(["Check the air gap", "Who is here", "Activate the quorum", "Generate the key in the HSM",
                          "Back up every key", "Closing attestations"])
        self.query_one("#wizard-log").write("▶ step 4: Generate the key in the HSM")
        self.run_worker(self.ask(self.fixed_prompt or STEP_PROMPT), exit_on_error=False)


STEP_PROMPT = TextPrompt(**{**COMMON, "step_count": 6}, step_index=4, step_id="generate",
                         step_title="Generate the key in the HSM", ask="label",
                         question="Label of the new key (unique on the token and in the database)",
                         read_aloud="We generate a new master key inside the HSM.",
                         error_code="LABEL_INVALID", error_message="A key label is 1 to 64 printable characters. "
                                                                   "Next: Type another label.")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_step_view(snap_compare, size):
    app = Harness(lambda: StaticWizard("generate-key"))
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app, list("signer-2026")))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_share_entry_points_to_the_wrong_word(snap_compare, size):
    prompt = ShareEntryPrompt(**COMMON, step_index=3, step_id="quorum", step_title="Activate the quorum",
                              ask="share", custodian=None, share_set_name="main", identifying_words=PRACTICE_IDENT,
                              progress=QuorumProgress((GroupProgress(0, 1, 2, 3),), 0, 1, 1), guide=practice_guide())
    words = PRACTICE_SHARE.split()
    words[14] = next(w for w in WORDLIST if w[:4] != words[14][:4])
    app = Harness(lambda: PaneScreen(ShareEntryPane(prompt)))
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app, share_keys(words)))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_attestation(snap_compare, size):
    statement = ("custodian-console attestation v2\nceremony-id: generate-key-20260501-093000-abcd\n"
                 f"ceremony-name: generate-key\nledger-head: {HEAD}\ncustodian: alice\nrole: custodian\n"
                 "decision: (not chosen yet: agree or do-not-agree)\ntime: 2026-05-01T09:41:00Z\n"
                 f"change: key created: label signer-2026; algorithm ec-p256; fingerprint sha256:{HEAD}\n"
                 f"change: bundle written: path media/signer-2026.ccb; sha256 {HEAD}\n"
                 "deviation: none\ndissent: none\n")
    prompt = AttestationPrompt(**COMMON, step_index=7, step_id="attest", step_title="Closing attestations",
                               ask="attest:alice", participant="alice", role="custodian", statement=statement,
                               ledger_head_hex=HEAD, ledger_head_words="rebirth Babylon drifter Geiger")
    app = Harness(lambda: PaneScreen(AttestationPane(prompt)))
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app))


SUMMARY = SummaryView(
    "generate-key-20260501-093000-abcd", "generate-key", "completed", "completed", (
        "1. environment: practice: air gap not enforced", "2. participants: administrator: admin, witness: wendy",
        "3. quorum: quorum of main activated by alice, bob", "4. generate: generated ec-p256 key signer-2026",
        "5. backup: bundle of 1 key", "6. attest: 5 attestations"),
    ("generated signer-2026 sha256:" + "3c1d" * 16,), ("written /media/usb/after-generate.ccb sha256 " + "ab12" * 16,),
    (), (), 41, HEAD, 48, "5d6e" * 16)


class SummaryScreen(PaneScreen):
    def compose_body(self):
        with VerticalScroll(id="wizard-main"):
            yield Static(SUMMARY.text(), id="wizard-result", classes="result good")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_summary(snap_compare, size):
    app = Harness(lambda: SummaryScreen(None))
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app))


REVIEW_PROMPT = ReviewPrompt(**{**COMMON, "step_count": 6}, step_index=4, step_id="generate",
                             step_title="Generate the key in the HSM", ask="review", action="generate-key",
                             title="Generate the ec-p256 key 'signer-2026' in the HSM",
                             items=(ReviewItem("Label", "signer-2026"), ReviewItem("Algorithm", "ec-p256"),
                                    ReviewItem("Backup", "backed up: extractable only to be wrapped under the "
                                                         "quorum's backup key"),
                                    ReviewItem("Token", "custodian-practice (serial 7c1e4a09d2b3f5e8)")),
                             administrator="admin", witness="wendy", review_sha256="5d6e" * 16, can_go_back=True)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_review(snap_compare, size):
    """The review before an irreversible step: what will be done, both confirmations, the way back."""
    app = Harness(lambda: StaticWizard("generate-key", REVIEW_PROMPT))
    assert snap_compare(app, terminal_size=size, run_before=freeze_after(app))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_welcome_footer_fits(snap_compare, size, tmp_path):
    """The first-run welcome on the real console (its footer holds the app's keys too): at 80
    columns it used to read "d Dash k Keys p P▏" and cut the rest; it offers its own keys, help
    and quit, and the areas (still answering their keys) are not listed."""
    from console.app import CustodianApp
    from tui_helpers import until_screen

    app = CustodianApp(tmp_path / "home")

    async def run_before(pilot):
        await until_screen(pilot, "WelcomeScreen")
        await pilot.pause()
        footer = " ".join(str(k.render()) for k in app.screen.query("FooterKey"))
        assert "Start init" in footer and "Help" in footer and "Quit" in footer and "Dash" not in footer

    assert snap_compare(app, terminal_size=size, run_before=run_before)
