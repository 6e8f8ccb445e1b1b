"""What people read aloud is readable (issue 11, item 4): hex in groups of four that never break
mid-group, PGP words; facts stay on screen until confirmed; the custodians screen lists each
person's key fingerprint."""

from __future__ import annotations

import re

from textual.app import App

from console.modals.read_aloud import ReadAloudDialog
from console.readable import fingerprint_block, group_hex, pgp_lines
from snap_harness import STYLES
from tui_helpers import SMALL, until_screen, wait_until

FP = "sha256:" + "9f2c4a1b7e3d5c60" * 4


def test_hex_runs_are_grouped_in_fours_and_prefixes_kept():
    assert group_hex(f"alice: {FP} (words)") == "alice: sha256:" + " ".join(["9f2c 4a1b 7e3d 5c60"] * 4) + " (words)"
    grouped = group_hex(FP)
    assert grouped.startswith("sha256:9f2c 4a1b")
    assert all(len(g) == 4 for g in grouped.split(":", 1)[1].split())
    assert group_hex("serial 4f1c2d3e5a6b7c8d ok") == "serial 4f1c 2d3e 5a6b 7c8d ok"
    assert group_hex("short abc123 stays") == "short abc123 stays"
    lines = pgp_lines(FP)
    assert len(lines) == 4 and lines[0].startswith(" 1. ") and len(lines[0].split()) == 9
    assert fingerprint_block(FP).splitlines()[1].count(" ") == 7  # 8 PGP words


class DialogApp(App):
    CSS_PATH = [STYLES / "app.tcss"]

    def on_mount(self) -> None:
        self.push_screen(ReadAloudDialog([("alice's key fingerprint", f"{FP} (word word)"),
                                          ("Closing ledger head", "ab" * 32)]))


async def test_a_fingerprint_never_breaks_mid_group_at_80_columns():
    app = DialogApp()
    async with app.run_test(size=SMALL) as pilot:
        await until_screen(pilot, "ReadAloudDialog")
        await pilot.pause()
        from rich.console import Console
        from rich.text import Text

        facts = list(app.screen.query(".read-fact"))
        width = facts[0].content_region.width
        assert 40 < width < 80
        lines = [str(line) for w in facts for line in Text(str(w.render())).wrap(Console(width=200), width)]
        assert any("Ceremony seal (the ledger head every attestation signs)" in line for line in lines)
        # as laid out at 80 columns: every hex token on a line is a whole group of four
        hex_lines = [line.split(":", 1)[-1].split() for line in lines if re.fullmatch(r"[0-9a-f: sha256]+", line)]
        tokens = [t for words in hex_lines for t in words]
        assert tokens and all(len(t) == 4 for t in tokens), lines
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, ReadAloudDialog))


async def test_the_custodians_screen_lists_fingerprints(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=SMALL) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await pilot.press("p")
        await until_screen(pilot, "PeopleScreen")
        await wait_until(pilot, lambda: app.screen.rows, what="the people")
        rows = {r.name: r for r in app.screen.rows}
        assert all(r.fingerprint.startswith("sha256:") and len(r.fingerprint) == 71 for r in rows.values())
        detail = str(app.screen.query_one("#people-detail").render())
        first = app.screen.rows[0]
        assert first.name in detail and group_hex(first.fingerprint)[:24] in detail


def test_the_review_shows_digests_and_fingerprints_in_groups_of_four():
    from console.panes.review import review_text
    from vault.ceremony.prompts import ReviewItem, ReviewPrompt

    digest = "7b4871e6b35405054627068a49669e601dc93c5201ec75105d5858b79aecea12"
    p = ReviewPrompt(ceremony_id="sign-1", ceremony_name="sign", practice=True, step_index=4, step_count=5,
                     step_id="sign", step_title="Sign and verify", ask="review", action="sign", title="Sign",
                     items=(ReviewItem("Payload SHA-256", digest, "kickoff dictator"),
                            ReviewItem("Key", "signer-ec (v1)")),
                     administrator="admin", witness="wendy", review_sha256="00" * 32)
    text = review_text(p)
    assert "Payload SHA-256: 7b48 71e6 b354 0505" in text and digest not in text
    assert "Key: signer-ec (v1)" in text


def test_an_aborted_ceremony_summary_names_no_seal_and_no_attestations():
    """Seen in the lead's walk: an abort before the attest step said its final head came 'after the
    attestations; chained to the seal', though there was neither."""
    from console.summary import SummaryView

    aborted = SummaryView("drill-1", "drill", "aborted", "aborted: ABORTED: wrong ceremony", ("1. environment: ok",),
                          (), (), (), (), None, "", 77, "33" * 32)
    text = aborted.text()
    assert "SEAL" not in text and "after the attestations" not in text
    assert "Final ledger head #77 (no attestations were made, so no seal)" in text
    sealed = SummaryView("drill-2", "drill", "completed", "completed", (), (), (), (), (), 70, "ab" * 32, 77, "33" * 32)
    assert "after the attestations; chained to the seal" in sealed.text()
