"""In-the-room responsiveness (issue 11): share entry per keystroke, step transitions, launch.

    .venv/bin/python bench/bench_room.py            # writes bench/results/room.txt
    .venv/bin/python bench/bench_room.py --only transition   # one part, printed only

* share entry: a 33-word practice share typed key by key (four letters and space a word, 165
  keys) into the console's ShareEntry (with an EntryGuide: early verdicts and marks), each key
  sent through the driver as a real key is; the time from sending it to the app being idle again
  with the word mark painted. Next to the same 165 keys typed into a bare Textual ``Input`` in
  the same run (the floor Textual itself sets). Median and p99.
* step transition: the init ceremony on a fresh practice home through the wizard, every answer
  that needs no HSM work and no KDF (checklist, names, policy, yes/no): from the answer key sent
  into the driver to the first screen paint after the next question's pane is mounted and
  focused, split into where the time goes: the engine's ``submit`` on the owner thread (journal
  and ledger writes to SQLite), the hop back to the event loop, and mounting, focusing and
  painting the pane. (Before 2026-12-02 15:20 the key went through ``pilot.press``, whose wait for
  idleness was counted in.) Next to it in the same run, interleaved, the floor: a minimal Textual
  app with the wizard's layout (same ids, the console's stylesheets, banner, header, step column,
  slot, log, footer) where a text question and a yes/no question replace each other the way the
  wizard replaces panes, measured the same way; the ratio of the medians. Then one transition
  (the answer to ``PROFILED``) of a second init run under cProfile: self time by area and named
  costs (layout, paint, CSS, mount, the footer's recompose, the console's own part).
* launch: constructing the app to the dashboard's first painted frame, next to a minimal Textual
  app with the same kinds of widgets (a banner line, a data table, a footer) in the same run.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "console"))

from textual import events  # noqa: E402
from textual.app import App  # noqa: E402
from textual.containers import Horizontal, Vertical, VerticalScroll  # noqa: E402
from textual.widgets import Button, DataTable, Footer, Input, RichLog, Static  # noqa: E402

SIZE = (100, 30)
RUNS = 5
ENTRY_ROUNDS = 4  # each round types the share into the row grid, the whole-Static grid, a bare Input
TRANSITION_RUNS = 2  # init ceremonies measured (6 transitions each), each next to 10 of the floor's
PROFILED = "witness.name"  # the transition profiled: a name answered, the policy asked next


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


PAINTS: list[float] = []  # perf_counter of every screen paint, while a share-entry bench runs


async def send(app, pilot, key: str) -> tuple[float, float]:
    """(key sent -> idle after it, as pilot.pause sees it; key sent -> the first screen paint)."""
    from tui_helpers import type_fast  # noqa: F401  (the same key path as the tests)
    import unicodedata

    from textual.keys import _character_to_key, _get_unicode_name_from_key

    k = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
    try:
        char = unicodedata.lookup(_get_unicode_name_from_key(k))
    except KeyError:
        char = key if len(key) == 1 else None
    event = events.Key(k, char)
    event.set_sender(app)
    PAINTS.clear()
    t0 = time.perf_counter()
    app._driver.send_message(event)
    await pilot.pause()  # the key handled and the screen repainted
    idle = time.perf_counter() - t0
    painted = next((p for p in PAINTS if p >= t0), None)
    return idle, (painted - t0 if painted is not None else idle)


async def send_only(app, key: str) -> float:
    """The key into the driver (the path a real key takes); returns when it was sent."""
    event = events.Key(key, "y" if key == "y" else None)
    event.set_sender(app)
    t0 = time.perf_counter()
    app._driver.send_message(event)
    return t0


def share_keys(words):
    keys = []
    for w in words:
        keys += [*w[:4], "space"]
    return keys


class EntryApp(App):
    # the console's own stylesheets: the widget is measured with the sizes it has in the console
    CSS_PATH = [str(ROOT / "console" / "styles" / "app.tcss"), str(ROOT / "console" / "styles" / "wizard.tcss")]

    def __init__(self, entry) -> None:
        super().__init__()
        self.entry = entry

    def compose(self):
        yield self.entry
        yield Footer()


class BareInput(App):
    def compose(self):
        yield Input(id="bare")
        yield Footer()


def whole_grid_entry_class():
    """The share entry as it was before 2026-12-02 18:00: its grid one Static, re-rendered whole
    (all 9 lines) on every change. Kept here to measure against the row-by-row grid in one run."""
    from console.widgets.share_entry import ShareEntry

    class WholeGridEntry(ShareEntry):
        def _compose_grid(self):
            yield Static("", id="share-grid")

        def _render_grid(self, cols: int, *, relaid: bool) -> None:
            self._show("#share-grid", self._grid(), layout=relaid)

    return WholeGridEntry


async def _type_into(app, keys, focus) -> list[tuple[float, float]]:
    times = []
    async with app.run_test(size=SIZE) as pilot:
        if isinstance(app, BareInput):
            focus(app)
        await pilot.pause()
        for key in keys:
            times.append(await send(app, pilot, key))
        if isinstance(app, EntryApp):
            assert app.entry.words_entered == 33 and "Checksum OK" in app.entry.feedback
    return times


async def bench_share_entry() -> dict[str, list[tuple[float, float]]]:
    """Per key (sent -> idle, sent -> first paint), pooled over ENTRY_ROUNDS rounds, each typing
    the same share into the row grid, the whole-Static grid and a bare Input, in turn."""
    from console.widgets.share_entry import ShareEntry
    from vault.secret import Secret
    from vault.shares import QuorumPolicy, ShareRef, split
    from vault.shares.entry import EntryGuide

    result = split(Secret(os.urandom(32), "qs"), QuorumPolicy.simple(2, 3), None)
    words = result.shares[0][1].reveal_text().split()
    keys = share_keys(words)
    guide = EntryGuide(result.public, "main", ((ShareRef(0, 0), "alice"),))
    whole = whole_grid_entry_class()
    from textual.screen import Screen

    real_paint = Screen._compositor_refresh

    def timed_paint(self):
        real_paint(self)
        PAINTS.append(time.perf_counter())

    Screen._compositor_refresh = timed_paint
    out: dict[str, list[tuple[float, float]]] = {"rows": [], "whole": [], "bare": []}
    try:
        await _type_into(BareInput(), keys, lambda a: a.query_one(Input).focus())  # warm-up, not counted
        for round_ in range(ENTRY_ROUNDS):
            order = ("rows", "whole", "bare") if round_ % 2 == 0 else ("bare", "whole", "rows")
            for name in order:  # the order turned round every other round: no one always goes first
                app = (EntryApp(ShareEntry(guide=guide, id="e")) if name == "rows" else
                       EntryApp(whole(guide=guide, id="e")) if name == "whole" else BareInput())
                out[name] += await _type_into(app, keys, lambda a: a.query_one(Input).focus())
    finally:
        Screen._compositor_refresh = real_paint
    return out


async def bench_transitions(home: Path, profile_key: str | None = None):
    """The wizard's transitions (see the module's docstring). With ``profile_key``, the one
    transition after that answer runs under cProfile (its row is then not a timing) and the
    profile is returned too."""
    from console.app import CustodianApp
    from console.panes.people import PassphrasePane
    from console.panes.simple import ChecklistPane, ConfirmPane, TextPane
    from console.screens.wizard import WizardScreen
    from vault.ceremony.context import RunOptions
    from vault.ceremony.engine import Engine

    marks: dict[str, float] = {}
    real_submit = Engine.submit

    def timed_submit(self, answer):
        marks["submit_start"] = time.perf_counter()
        try:
            return real_submit(self, answer)
        finally:
            marks["submit_end"] = time.perf_counter()

    real_ask = WizardScreen.ask

    async def timed_ask(self, prompt):
        marks["ask"] = time.perf_counter()
        return await real_ask(self, prompt)

    from textual.screen import Screen

    paints: list[float] = []
    real_paint = Screen._compositor_refresh

    def timed_paint(self):
        real_paint(self)
        paints.append(time.perf_counter())

    Engine.submit, WizardScreen.ask, Screen._compositor_refresh = timed_submit, timed_ask, timed_paint
    rows = []
    profiler = None
    try:
        app = CustodianApp(home, ceremony_options=RunOptions(kdf_profile="fast-for-tests"))
        async with app.run_test(size=SIZE) as pilot:
            while type(app.screen).__name__ != "WelcomeScreen":
                await asyncio.sleep(0.01)
            await pilot.press("i")
            while not any(isinstance(s, WizardScreen) for s in app.screen_stack):
                await asyncio.sleep(0.01)
            w = next(s for s in app.screen_stack if isinstance(s, WizardScreen))
            answers = {"administrator.name": "admin", "witness.name": "wendy", "policy.policy": "2-of-3",
                       "policy.drill-interval-days": "90", "custodians.name:1": "alice", "custodians.name:2": "bob",
                       "custodians.name:3": "carol"}
            while len(rows) < 10:
                while not (w.pane is not None and w.pane.is_mounted and w._future is not None
                           and app.screen is w):
                    if type(app.screen).__name__ == "ReadAloudDialog":
                        await pilot.press("enter")
                    await asyncio.sleep(0.001)
                pane, key = w.pane, f"{w.prompt.step_id}.{w.prompt.ask}"
                if isinstance(pane, ChecklistPane):
                    for _ in pane.prompt.items:
                        await pilot.press("space", "tab")
                    last = "enter"
                elif isinstance(pane, TextPane) and key in answers:
                    pane.query_one(Input).value = answers[key]
                    await pilot.pause()
                    last = "enter"
                elif isinstance(pane, ConfirmPane):
                    last = "y"
                elif isinstance(pane, PassphrasePane):  # a KDF follows: answered, not measured
                    await pilot.press("ctrl+f", "enter")
                    while w.pane is pane:
                        await asyncio.sleep(0.001)
                    continue
                else:
                    break  # HSM work comes next: the measured part ends here
                marks.clear()
                paints.clear()
                # The key goes in through the driver as a real one does, and nothing waits for the
                # app to be idle (Pilot's press does: its idle detection, in 20 ms rounds that count
                # the drive thread's CPU too, was most of the 243 ms measured before).
                if key == profile_key:
                    profiler = cProfile.Profile()
                    profiler.enable()
                t0 = await send_only(app, last)
                while not (w.pane is not None and w.pane is not pane and w.pane.is_mounted
                           and app.focused is not None and w.pane in app.focused.ancestors_with_self):
                    if type(app.screen).__name__ == "ReadAloudDialog":
                        break
                    await asyncio.sleep(0.0005)
                t_focus = time.perf_counter()
                while not any(t >= t_focus for t in paints):  # the next question painted
                    await asyncio.sleep(0.0005)
                t_end = min(t for t in paints if t >= t_focus)
                if key == profile_key:
                    profiler.disable()
                rows.append((key, t_end - t0, marks.get("submit_start", t0) - t0,
                             marks.get("submit_end", t0) - marks.get("submit_start", t0),
                             marks.get("ask", t_end) - marks.get("submit_end", t0), t_end - marks.get("ask", t_end)))
            w.action_abort()
            await pilot.pause()
    finally:
        Engine.submit, WizardScreen.ask, Screen._compositor_refresh = real_submit, real_ask, real_paint
    return (rows, profiler) if profile_key else rows


# -- the same-run floor for a step transition: a minimal Textual app with the wizard's layout ------
class _TextQuestion(Vertical):
    """A question, a box and its problem line: what the console's TextPane mounts."""

    DEFAULT_CLASSES = "prompt-pane"

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def compose(self):
        yield Static(f"Question {self.n}: a name?", classes="question")
        yield Input(value="", id="text")
        yield Static("", classes="pane-problem")


class _YesNoQuestion(Vertical):
    """A question and two buttons: what the console's ConfirmPane mounts."""

    DEFAULT_CLASSES = "prompt-pane"

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def compose(self):
        yield Static(f"Question {self.n}: go on?", classes="question")
        with Horizontal(classes="buttons"):
            yield Button("Yes", id="yes", variant="primary")
            yield Button("No", id="no")


class MinimalWizard(App):
    """Two kinds of question replacing each other in the wizard's layout (the same ids, so the
    console's own stylesheets give it the same sizes), with none of the console's machinery:
    no engine, no owner thread, no type-ahead, no step list or log updates."""

    CSS_PATH = EntryApp.CSS_PATH

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.pane = None

    def compose(self):
        yield Static("PRACTICE · Ceremony", id="banner")
        yield Static("init · step 1/9", id="wizard-header")
        with Horizontal(id="wizard-body"):
            yield Static("\n".join(f"  {i}. step {i}" for i in range(1, 10)), id="wizard-steps")
            with Vertical(id="wizard-main"):
                with VerticalScroll(id="read-aloud-box"):
                    yield Static("", id="read-aloud")
                yield VerticalScroll(id="prompt-slot")
                yield RichLog(id="wizard-log", max_lines=500, wrap=True)
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        await self.next_question()

    async def next_question(self) -> None:
        self.n += 1
        self.query_one("#wizard-header", Static).update(f"init · step {self.n}/9")
        slot = self.query_one("#prompt-slot")
        slot.remove_children()  # as the wizard: not awaited
        self.pane = (_TextQuestion if self.n % 2 else _YesNoQuestion)(self.n)
        await slot.mount(self.pane)
        self.screen.set_focus(self.pane.query("Input, Button").first())

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        await self.next_question()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self.next_question()


async def bench_minimal_transitions(count: int = 10) -> list[float]:
    """Key sent -> the next question mounted, focused and painted, as the wizard's is measured."""
    from textual.screen import Screen

    paints: list[float] = []
    real_paint = Screen._compositor_refresh

    def timed_paint(self):
        real_paint(self)
        paints.append(time.perf_counter())

    Screen._compositor_refresh = timed_paint
    times = []
    try:
        app = MinimalWizard()
        async with app.run_test(size=SIZE) as pilot:
            while app.pane is None or not app.pane.is_mounted:
                await asyncio.sleep(0.001)
            await pilot.pause()
            for _ in range(count):
                pane = app.pane
                if isinstance(pane, _TextQuestion):
                    pane.query_one(Input).value = "alice"
                    await pilot.pause()
                paints.clear()
                t0 = await send_only(app, "enter")
                while not (app.pane is not pane and app.pane.is_mounted and app.focused is not None
                           and app.pane in app.focused.ancestors_with_self):
                    await asyncio.sleep(0.0005)
                t_focus = time.perf_counter()
                while not any(t >= t_focus for t in paints):
                    await asyncio.sleep(0.0005)
                times.append(min(t for t in paints if t >= t_focus) - t0)
                await pilot.pause()
    finally:
        Screen._compositor_refresh = real_paint
    return times


COSTS = (  # (what, file, function): the parts of a transition named in the report
    ("layout: Screen._refresh_layout (arrange and reflow the screen)", "textual/screen.py", "_refresh_layout"),
    ("paint: Compositor.render_update (render the changed regions)", "textual/_compositor.py", "render_update"),
    ("CSS: Stylesheet.apply (new widgets' styles; :focus changes)", "textual/css/stylesheet.py", "apply"),
    ("CSS: DOMNode.update_node_styles (pseudo-classes after a focus move)", "textual/dom.py", "update_node_styles"),
    ("mount: Widget.mount (the new pane and its children)", "textual/widget.py", "mount"),
    ("recompose (the footer: the focus changed the bindings it shows)", "textual/widget.py", "recompose"),
    ("focus: Widget.watch_has_focus", "textual/widget.py", "watch_has_focus"),
    ("console: WizardScreen.ask (show the prompt, mount, focus)", "console/screens/wizard.py", "ask"),
    ("console: KeyHold._replay (the answer key handed on, settled)", "console/key_hold.py", "_replay"),
)


def profile_lines(profiler) -> list[str]:
    """Where one transition's time goes on the event loop: self time by area, then the functions
    with the most cumulative time (the owner thread's submit is not in it: timed apart above)."""
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    areas = {"textual: layout and compositor": ("textual/_compositor", "textual/_arrange", "textual/layouts",
                                                "textual/_layout", "textual/geometry", "textual/_resolve",
                                                "textual/box_model", "textual/_box_model"),
             "textual: CSS (styles, matching, apply)": ("textual/css/", "textual/_styles_cache"),
             "textual: render (strips, segments, rich)": ("textual/strip", "textual/_segment_tools", "/rich/",
                                                          "textual/content", "textual/visual", "textual/_border"),
             "textual: DOM, compose, mount, messages": ("textual/dom", "textual/widget", "textual/message",
                                                        "textual/_compose", "textual/app", "textual/screen",
                                                        "textual/_node_list", "textual/walk", "textual/reactive"),
             "console/ (screens, panes, key_hold)": ("/console/",),
             "vault/ (on the event loop)": ("/vault/",),
             "asyncio and the loop": ("asyncio/", "selectors", "threading"),
             }
    totals = dict.fromkeys([*areas, "other textual", "builtins (called from all of the above)", "other"], 0.0)
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        f = filename.replace("\\", "/")
        for area, marks in areas.items():
            if any(m in f for m in marks):
                totals[area] += tt
                break
        else:
            totals["other textual" if "/textual/" in f else
                   "builtins (called from all of the above)" if filename == "~" else "other"] += tt
    whole = sum(totals.values()) or 1.0
    lines = [f"self time by area ({whole * 1e3:.1f} ms profiled on the event loop):"]
    for area, t in sorted(totals.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {area:<42} {t * 1e3:7.1f} ms  {100 * t / whole:4.0f} %")
    lines.append("named costs, cumulative (a function with what it calls; they nest, so they overlap):")
    for label, file_part, func in COSTS:
        ct = sum(v[3] for (f, _l, n), v in raw.items() if n == func and file_part in f.replace("\\", "/"))
        calls = sum(v[1] for (f, _l, n), v in raw.items() if n == func and file_part in f.replace("\\", "/"))
        lines.append(f"  {label:<66} {ct * 1e3:7.1f} ms  ({calls} calls)")
    return lines


class MinimalSame(App):
    """The same kinds of widgets as the dashboard's first frame: a banner line, a table, a footer."""

    def compose(self):
        yield Static("PRACTICE · Dashboard", id="banner")
        table = DataTable(id="t")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("area", "state")
        t.add_rows([("token", "ok"), ("quorum", "2-of-3"), ("keys", "3"), ("backup", "yes")])


async def time_app(make, ready) -> float:
    t0 = time.perf_counter()
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        while not ready(app):
            await asyncio.sleep(0.001)
        await pilot.pause()
        return time.perf_counter() - t0


def dashboard_ready(app) -> bool:
    try:
        return app.get_screen("dashboard").query_one("#dash-ledger").region.height > 0
    except Exception:
        return False


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("entry", "transition", "launch"),
                        help="run one part and print it (bench/results/room.txt is written by a full run only)")
    only = parser.parse_args().only
    out = ROOT / "bench" / "results" / "room.txt"
    lines = [f"# bench_room.py on {platform.node()} ({os.cpu_count()} cores), python {platform.python_version()}",
             f"# {time.strftime('%Y-%m-%d %H:%M:%S')} UTC; shared machine, other engineers' suites running", ""]

    if only in (None, "entry"):
        lines += entry_lines()
    if only in (None, "transition"):
        lines += transition_lines()
    if only in (None, "launch"):
        lines += launch_lines()
    if only is None:
        out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def entry_lines() -> list[str]:
    lines = []
    got = asyncio.run(bench_share_entry())
    keys = share_keys(["word"] * 33) * ENTRY_ROUNDS
    names = (("rows", "ShareEntry, grid redrawn by rows (now):    "),
             ("whole", "ShareEntry, grid one Static (before):      "),
             ("bare", "bare Textual Input, same keys:             "))
    for title, col in (("key sent -> idle again (pilot.pause's 20 ms CPU-idle rounds counted in)", 0),
                       ("key sent -> first screen paint after it (the typist's latency)", 1)):
        lines.append(f"## share entry: {title}; 165 keys of one 33-word share x {ENTRY_ROUNDS} rounds, "
                     "the three typed in turn each round")
        for name, label in names:
            all_ = [t[col] * 1e3 for t in got[name]]
            spaces = [t[col] * 1e3 for k, t in zip(keys, got[name]) if k == "space"]
            lines.append(f"{label} median {statistics.median(all_):5.1f} ms, p99 {pct(all_, 0.99):5.1f} ms;  "
                         f"space keys (a word taken): median {statistics.median(spaces):5.1f}, "
                         f"p90 {pct(spaces, 0.9):5.1f}, max {max(spaces):5.1f}")
        med = {name: statistics.median(t[col] for t in got[name]) for name, _ in names}
        lines += [f"ratio to the bare Input (median): rows {med['rows'] / med['bare']:.2f}x, "
                  f"whole {med['whole'] / med['bare']:.2f}x", ""]
    return lines


def transition_lines() -> list[str]:
    lines, rows, minimal = [], [], []
    for _ in range(TRANSITION_RUNS):  # interleaved, so a load that comes and goes hits both alike
        with tempfile.TemporaryDirectory() as tmp:
            rows += asyncio.run(bench_transitions(Path(tmp) / "home"))
        minimal += asyncio.run(bench_minimal_transitions())
    lines += [f"## step transition (init, answers without HSM work or KDF; {TRANSITION_RUNS} runs): key -> next pane "
              "focused and painted",
              "answer                         total   key->submit  submit(owner)  submit->ask   mount+paint  (ms)"]
    for key, total, to_submit, submit, hop, mount in rows:
        lines.append(f"{key:<30} {total * 1e3:6.1f} {to_submit * 1e3:12.1f} {submit * 1e3:13.1f} {hop * 1e3:11.1f} "
                     f"{mount * 1e3:12.1f}")
    if rows:
        ours = statistics.median(r[1] for r in rows)
        lines += [f"median total {ours * 1e3:.1f} ms",
                  f"same-run floor: a minimal Textual app with the wizard's layout and stylesheets, a text and a "
                  f"yes/no question replacing each other ({len(minimal)} transitions, same measurement): "
                  f"median {statistics.median(minimal) * 1e3:.1f} ms, min {min(minimal) * 1e3:.1f}, "
                  f"max {max(minimal) * 1e3:.1f}",
                  f"ratio (median): {ours / statistics.median(minimal):.2f}x"]
    lines.append("")
    with tempfile.TemporaryDirectory() as tmp:
        _rows, profiler = asyncio.run(bench_transitions(Path(tmp) / "home", profile_key=PROFILED))
    if profiler is not None:
        lines += [f"## one step transition under cProfile: the answer to {PROFILED} -> the next question painted "
                  "(a second init run; cProfile slows it)"]
        lines += profile_lines(profiler)
        lines.append("")
    return lines


def launch_lines() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        from console.app import CustodianApp

        home = Path(tmp) / "home"
        asyncio.run(time_app(lambda: CustodianApp(home), dashboard_ready))  # creates the practice home once
        ours, minimal = [], []
        for _ in range(RUNS):
            ours.append(asyncio.run(time_app(lambda: CustodianApp(home), dashboard_ready)))
            minimal.append(asyncio.run(time_app(MinimalSame, lambda a: a.query_one(DataTable).region.height > 0)))
    return ["## launch to the first dashboard frame (headless 100x30, median of 5)",
            f"custodian console: {statistics.median(ours) * 1e3:.0f} ms",
            f"minimal app, same widget kinds (banner, data table, footer): {statistics.median(minimal) * 1e3:.0f} ms",
            f"ratio: {statistics.median(ours) / statistics.median(minimal):.2f}x", ""]


if __name__ == "__main__":
    main()
