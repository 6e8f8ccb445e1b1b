"""TUI benchmark: launch to the first painted dashboard, and the key inventory with 10,000 keys.

    .venv/bin/python bench/bench_tui.py            # writes bench/results/tui.txt

* launch: time from constructing the app to the dashboard showing its data (headless, 100x32),
  next to a minimal Textual app (one Static) in the same run, median of N runs each;
* inventory: 10,000 keys inserted through vault.store, then
  - time from pressing ``k`` to the Keys screen's first paint (banner, filter, table frame), and to
    the first painted page of rows (all 10,000 are then in the table: it is virtual, only the lines
    on screen are rendered);
  - per scroll (page down / up, end, home, down): the time for the app to handle the key and
    repaint, measured inside the app (key event to the next idle refresh), and Pilot's
    press-to-return next to the same presses on a 10-row table (Pilot's own overhead);
  - a typed filter (``state:pre``) until the table shows the matching rows.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual import events  # noqa: E402
from textual.app import App  # noqa: E402
from textual.widgets import DataTable, Static  # noqa: E402

from console.widgets.row_table import RowTable  # noqa: E402

from console.app import CustodianApp  # noqa: E402
from vault.types import KeyAlgorithm, KeyState  # noqa: E402

RUNS = 5
SIZE = (100, 32)


async def wait_for(pilot, predicate, timeout=60.0):
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.001)


class Minimal(App):
    def compose(self):
        yield Static("hello", id="hello")


async def time_minimal() -> float:
    t0 = time.perf_counter()
    app = Minimal()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.query_one("#hello").region.height > 0)
        return time.perf_counter() - t0


async def time_dashboard(home: Path) -> tuple[float, float]:
    """(frame painted, data painted) in seconds from constructing the app."""
    t0 = time.perf_counter()
    app = CustodianApp(home)
    async with app.run_test(size=SIZE) as pilot:
        def frame():
            try:
                return app.get_screen("dashboard").query_one("#dash-ledger").region.height > 0
            except Exception:
                return False
        await wait_for(pilot, frame)
        t_frame = time.perf_counter() - t0
        await wait_for(pilot, lambda: hasattr(app.get_screen("dashboard"), "view"))
        await pilot.pause()
        return t_frame, time.perf_counter() - t0


def seed_keys(home: Path, n: int) -> None:
    from vault.vault import Vault

    vault = Vault.open(home)
    algs = list(KeyAlgorithm)
    try:
        with vault.store.atomic():
            for i in range(n):
                vault.store.add_key(f"bench-key-{i:05d}", cka_id=f"{i:016x}", algorithm=algs[i % len(algs)],
                                    fingerprint=f"sha256:{i:064x}", token_serial="bench", actor="bench",
                                    state=KeyState.ACTIVE if i % 3 else KeyState.PRE_ACTIVATION)
    finally:
        vault.close()


async def time_inventory(home: Path, n: int) -> dict:
    app = CustodianApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: hasattr(app.get_screen("dashboard"), "view"))
        while type(app.screen).__name__ != "DashboardScreen":
            app.pop_screen()
            await pilot.pause()
        await app.workers.wait_for_complete()  # the dashboard's refresh: the owner thread is idle
        await pilot.pause()
        t0 = time.perf_counter()
        app.post_message(events.Key("k", "k"))

        def on_keys() -> bool:
            return type(app.screen).__name__ == "InventoryScreen"

        def table():
            return app.screen.query_one(RowTable)

        await wait_for(pilot, lambda: on_keys() and table().region.height > 0)
        first_paint = time.perf_counter() - t0
        await wait_for(pilot, lambda: table().row_count == n)
        await pilot.pause()  # the page of rows painted
        rows_painted = time.perf_counter() - t0
        presses = []
        for key in ["pagedown"] * 10 + ["end", "home"] + ["pageup"] * 3 + ["down"] * 5:
            t = time.perf_counter()
            await pilot.press(key)
            presses.append(time.perf_counter() - t)
        t = time.perf_counter()
        await pilot.press("slash", *"state:pre", "enter")
        await wait_for(pilot, lambda: 0 < table().row_count < n)
        await pilot.pause()
        filter_s = time.perf_counter() - t
        return {"first_paint": first_paint, "rows_painted": rows_painted, "presses": presses, "filter": filter_s,
                "shown": table().row_count}


async def time_scroll_in_app(home: Path, n: int) -> tuple[list[float], float, int]:
    """Key event to repaint, inside the app: time ``RowTable`` takes to move and render a page."""
    app = CustodianApp(home)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: hasattr(app.get_screen("dashboard"), "view"))
        while type(app.screen).__name__ != "DashboardScreen":
            app.pop_screen()
            await pilot.pause()
        await pilot.press("k")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "InventoryScreen"
                       and app.screen.query_one(RowTable).row_count == n)
        await pilot.pause()
        table = app.screen.query_one(RowTable)
        out = []
        for key in ["pagedown"] * 10 + ["end", "home"] + ["pageup"] * 3 + ["down"] * 5:
            action = {"pagedown": "page(1)", "pageup": "page(-1)", "end": "jump(-1)", "home": "jump(0)",
                      "down": "cursor(1)"}[key]
            t = time.perf_counter()
            await table.run_action(action)
            # render every visible line as the compositor would
            for y in range(table.size.height):
                table.render_line(y)
            out.append(time.perf_counter() - t)
            await pilot.pause()
        screen = app.screen
        screen.query_one("#key-filter").value = "state:pre"
        t = time.perf_counter()
        screen.fill()
        for y in range(table.size.height):
            table.render_line(y)
        filter_s = time.perf_counter() - t
        return out, filter_s, table.row_count


class SmallTable(App):
    def compose(self):
        yield DataTable()

    def on_mount(self):
        t = self.query_one(DataTable)
        t.add_columns("a", "b")
        t.add_rows([(str(i), str(i)) for i in range(10)])
        t.focus()


async def time_small_scrolls() -> list[float]:
    app = SmallTable()
    async with app.run_test(size=SIZE) as pilot:
        out = []
        for key in ["pagedown"] * 10 + ["end", "home"] + ["pageup"] * 3 + ["down"] * 5:
            t = time.perf_counter()
            await pilot.press(key)
            out.append(time.perf_counter() - t)
        return out


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


async def main() -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    home = tmp / "home"
    await time_dashboard(home)  # creates the practice home; not counted
    minimal = [await time_minimal() for _ in range(RUNS)]
    both = [await time_dashboard(home) for _ in range(RUNS)]
    frame = [f for f, _ in both]
    dash = [d for _, d in both]
    n = 10_000
    t = time.perf_counter()
    seed_keys(home, n)
    seed_s = time.perf_counter() - t
    inv = await time_inventory(home, n)
    in_app, filter_in_app, matched = await time_scroll_in_app(home, n)
    small = await time_small_scrolls()
    presses = inv["presses"]
    lines = [
        "TUI benchmark (bench/bench_tui.py)",
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; headless, {SIZE[0]}x{SIZE[1]}",
        "",
        f"launch to first painted dashboard frame (median of {RUNS}): {ms(statistics.median(frame))} "
        f"(min {ms(min(frame))}, max {ms(max(frame))})",
        f"launch to dashboard painted with its data (token, quorum, keys, ledger head, doctor; median of {RUNS}): "
        f"{ms(statistics.median(dash))} (min {ms(min(dash))}, max {ms(max(dash))})",
        f"minimal Textual app to first paint (median of {RUNS}): {ms(statistics.median(minimal))} "
        f"(min {ms(min(minimal))}, max {ms(max(minimal))})",
        "",
        f"inventory: {n} keys inserted through vault.store in {seed_s:.1f} s",
        f"  Keys screen first paint (banner, filter, empty table) after pressing k: {ms(inv['first_paint'])}",
        f"  first page of rows painted (all {n} rows in the virtual table): {ms(inv['rows_painted'])}",
        f"  per scroll inside the app (move + render the visible page; pagedown/end/home/pageup/down, "
        f"{len(in_app)} keys): median {ms_f(statistics.median(in_app))}, max {ms_f(max(in_app))}",
        f"  per scroll as Pilot's press-to-return: median {ms(statistics.median(presses))}, max {ms(max(presses))}",
        f"  same presses on a 10-row DataTable (Pilot's own overhead): median {ms(statistics.median(small))}, "
        f"max {ms(max(small))}",
        f"  filter 'state:pre' inside the app (filter + sort {n} rows, render the page; {matched} match): "
        f"{ms_f(filter_in_app)}",
        f"  filter 'state:pre' typed through Pilot (10 presses + enter, until the table shows the matches): "
        f"{ms(inv['filter'])}",
        "",
    ]
    return "\n".join(lines)


def ms_f(x: float) -> str:
    return f"{x * 1000:.1f} ms"


if __name__ == "__main__":
    text = asyncio.run(main())
    print(text)
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "tui.txt").write_text(text, encoding="utf-8")
