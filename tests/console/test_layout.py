"""Layout at 80x24 and 100x30 (issue 11, item 8): every footer binding fits (f1 and quit
included), the ceremonies list is in lifecycle order with a legend and does not wrap, the welcome
heading is on the first frame, ceremony notices are not toasts, f1 helps on every step kind, and
the palette finds every ceremony, transcripts, paper and quit."""

from __future__ import annotations

import pytest
from textual.widgets import OptionList
from textual.widgets._footer import FooterKey

from tui_helpers import until_screen, wait_until
from vault.ceremony.prompts import PROMPT_KINDS

SIZES = [(80, 24), (100, 30)]


def footer_keys(app) -> list[tuple[str, str, int]]:
    return [(k.key_display, k.description, k.region.right) for k in app.screen.query(FooterKey)]


def assert_footer_fits(app, width: int) -> list[str]:
    keys = footer_keys(app)
    assert keys, "no footer"
    for key, description, right in keys:
        assert right <= width, f"{key} {description} ends at {right} > {width}: {keys}"
    return [d for _, d, _ in keys]


@pytest.mark.parametrize("size", SIZES)
async def test_every_area_footer_fits(initialised, make_app_on, size):
    app = make_app_on(initialised.home)
    async with app.run_test(size=size) as pilot:
        await until_screen(pilot, "DashboardScreen")
        for key, screen in (("d", "DashboardScreen"), ("k", "InventoryScreen"), ("p", "PeopleScreen"),
                            ("l", "LedgerScreen"), ("c", "CeremoniesScreen")):
            await pilot.press(key)
            await until_screen(pilot, screen)
            await pilot.pause()
            shown = assert_footer_fits(app, size[0])
            assert "Help" in shown and "Quit" in shown, (screen, shown)


async def test_ceremonies_in_lifecycle_order_with_a_legend(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=(80, 24)) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await pilot.press("c")
        await until_screen(pilot, "CeremoniesScreen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.entries, what="the catalogue")
        names = [e.name for e in screen.entries]
        assert names[:10] == ["init", "generate-key", "backup", "drill", "sign", "rotate", "compromise", "destroy",
                              "reshare", "restore"]
        ol = screen.query_one(OptionList)
        assert all(ol.get_option_at_index(i).prompt.count("\n") == 0 for i in range(ol.option_count))
        assert max(len(str(ol.get_option_at_index(i).prompt)) for i in range(ol.option_count)) < ol.size.width
        assert "life order" in str(screen.query_one("#ceremony-legend").render())


async def test_the_welcome_heading_is_on_the_first_frame(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.pause()
        assert app.screen.query_one("#welcome").scroll_y == 0
        assert app.focused.id == "init"
        # the text and every button are laid out on the screen (a style meant for another screen's
        # widget of the same id once made one button fill it, hiding the text and the init button)
        screen = app.screen.region
        assert app.screen.query_one("#welcome").region.height >= 10
        for button in app.screen.query("#welcome-buttons Button"):
            assert button.region.height == 3 and screen.contains_region(button.region), button.id


def test_f1_has_help_for_every_prompt_kind():
    from console.help_text import BY_KIND, step_help

    for kind, cls in PROMPT_KINDS.items():
        assert kind in BY_KIND, kind
        text = BY_KIND[kind]
        assert len(text) > 40 and "No help" not in text
    from vault.ceremony.prompts import ShareVerifyPrompt, MemberRef, VerifyMode

    p = ShareVerifyPrompt(ceremony_id="c", ceremony_name="init", practice=True, step_index=8, step_count=12,
                          step_id="distribute", step_title="Hand out the shares", ask="verify:alice",
                          custodian="alice", ref=MemberRef(0, 0), mode=VerifyMode.FULL)
    text = step_help(p)
    assert "Hand out the shares" in text and "from the card" in text and "ctrl+a" in text


async def test_palette_finds_ceremonies_transcripts_paper_and_quit(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=(100, 30)) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await wait_until(pilot, lambda: getattr(app, "ceremony_titles", None), what="the catalogue")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        helps = " ".join(c.help for c in app.get_system_commands(app.screen)).lower()
        for name in ("init", "generate-key", "backup", "drill", "destroy"):
            assert f"Ceremony: {name}" in titles
        assert "generate" in helps and "transcript" in helps and "print" in " ".join(titles).lower()
        assert "Console: Quit" in titles and "Transcript: Open…" in titles
