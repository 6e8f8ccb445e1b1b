"""The key inventory with 10,000 keys: opens, scrolls to the end, filters, sorts, shows a key's
detail. Functional checks only (speed is measured in bench/bench_tui.py, not asserted here).
"""

from __future__ import annotations

from console.widgets.row_table import RowTable
from tui_helpers import SIZE, until_screen, wait_until
from vault.types import KeyAlgorithm, KeyState
from vault.vault import Vault

N = 10_000


def seed(home, n: int) -> None:
    vault = Vault.open(home)
    algs = list(KeyAlgorithm)
    try:
        with vault.store.atomic():
            for i in range(n):
                vault.store.add_key(f"key-{i:05d}", cka_id=f"{i:016x}", algorithm=algs[i % len(algs)],
                                    fingerprint=f"sha256:{i:064x}", token_serial="test", actor="test",
                                    state=KeyState.ACTIVE if i % 3 else KeyState.PRE_ACTIVATION)
    finally:
        vault.close()


async def test_ten_thousand_keys_open_scroll_filter_sort(make_app, practice_home):
    seed(practice_home, N)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("escape", "k")
        await until_screen(pilot, "InventoryScreen")
        screen = app.screen
        table = screen.query_one(RowTable)
        await wait_until(pilot, lambda: table.row_count == N, what="the rows")
        await wait_until(pilot, lambda: "key-00000" in str(screen.query_one("#key-detail").render()))
        assert f"{N} of {N} keys" in str(screen.query_one("#key-status").render())

        await pilot.press("end")
        assert table.cursor_row == N - 1
        await wait_until(pilot, lambda: f"key-{N - 1:05d}" in str(screen.query_one("#key-detail").render()))
        assert "pre-activation" in str(screen.query_one("#key-detail").render())
        assert int(table.scroll_y) == table.max_scroll_y  # the last row is on screen
        await pilot.press("pageup", "up", "home")
        assert table.cursor_row == 0 and int(table.scroll_y) == 0

        await pilot.press("slash", *"state:pre alg:ec-p384", "enter")
        expected = sum(1 for i in range(N) if i % 3 == 0 and list(KeyAlgorithm)[i % len(KeyAlgorithm)] is KeyAlgorithm.EC_P384)
        await wait_until(pilot, lambda: table.row_count == expected, what="the filtered rows")
        assert app.focused is table  # enter went back to the table

        await pilot.press("s", "s")  # sort by state, then reverse
        await pilot.press("S")
        assert "sorted by state (reversed)" in str(screen.query_one("#key-status").render())


async def test_the_keys_screen_exports_the_highlighted_key(make_app, practice_home, tmp_path):
    """`x` on the keys screen: a new-file dialog, the export written once and ledgered; an AES key
    asked for as PEM is refused with a one-line message and nothing is written."""
    import json

    from textual.widgets import Input

    vault = Vault.open(practice_home)
    try:
        vault.store.add_key("dek", cka_id="00" * 16, algorithm=KeyAlgorithm.AES_256, fingerprint="kcv:8eda13",
                            token_serial="test", actor="test", state=KeyState.ACTIVE)
    finally:
        vault.close()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("escape", "k")
        await until_screen(pilot, "InventoryScreen")
        table = app.screen.query_one(RowTable)
        await wait_until(pilot, lambda: table.row_count == 1, what="the row")
        for target, ok in ((tmp_path / "dek.pem", False), (tmp_path / "dek.kcv", True)):
            await pilot.press("x")
            await until_screen(pilot, "NewFileDialog")
            app.screen.query_one(Input).value = str(target)
            await pilot.press("enter")
            await until_screen(pilot, "InventoryScreen")
            if ok:
                await wait_until(pilot, lambda: target.exists(), what="the export")
            else:
                await pilot.pause(0.3)
        assert not (tmp_path / "dek.pem").exists()
    assert json.loads((tmp_path / "dek.kcv").read_text())["check_value"] == "kcv:8eda13"
    vault = Vault.open(practice_home)
    try:
        assert [e.details["format"] for e in vault.ledger.events() if e.action == "key.exported"] == ["kcv"]
    finally:
        vault.close()
