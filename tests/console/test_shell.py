"""The shell: banner everywhere, the areas, the command palette, no screenshot anywhere."""

from __future__ import annotations

from textual.widgets import DataTable

from console.widgets.banner import ModeBanner
from tui_helpers import SIZE, SMALL, until_screen, wait_until


async def test_first_run_offers_welcome_over_dashboard(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        assert "PRACTICE" in str(app.screen.query_one(ModeBanner).render())
        await pilot.press("escape")
        await until_screen(pilot, "DashboardScreen")
        await wait_until(pilot, lambda: hasattr(app.screen, "view"), what="dashboard data")
        assert app.screen.view.ledger_count >= 1
        assert "none yet" in app.screen.view.share_set


async def test_areas_all_show_the_banner_at_80x24(make_app):
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("escape")
        for key, name in (("k", "InventoryScreen"), ("p", "PeopleScreen"), ("l", "LedgerScreen"),
                          ("c", "CeremoniesScreen"), ("d", "DashboardScreen")):
            await pilot.press(key)
            await until_screen(pilot, name)
            banner = app.screen.query_one(ModeBanner)
            assert banner.region.y == 0 and banner.region.height == 1 and banner.region.width == 80
        await pilot.press("f1")
        await until_screen(pilot, "HelpDialog")
        assert app.screen.query_one(ModeBanner).region.y == 0


async def test_no_screenshot_command_or_path(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles and not any("screenshot" in t.lower() for t in titles)
        assert all(": " in t for t in titles)  # "area: Action"
        for binding_key in ("ctrl+s", "print_screen", "f12"):
            assert binding_key not in app._bindings.key_to_bindings
        await app.run_action("screenshot")
        try:
            app.save_screenshot()
        except PermissionError:
            pass
        else:
            raise AssertionError("save_screenshot wrote a file")
        assert app.deliver_screenshot() is None


async def test_ledger_verify_shows_result(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "WelcomeScreen")
        await pilot.press("escape", "l")
        await until_screen(pilot, "LedgerScreen")
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count >= 1)
        await pilot.press("v")
        await wait_until(pilot, lambda: hasattr(app.screen, "verify_result"))
        assert app.screen.verify_result.ok
        assert "Ledger OK" in str(app.screen.query_one("#ledger-verify").render())
