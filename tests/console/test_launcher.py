"""The ceremony launcher on an initialised home: the cursor starts on a ceremony that can start,
and a ceremony that cannot start now says why where it is listed instead of opening and stopping."""

from __future__ import annotations

from textual.widgets import OptionList, Static

from tui_helpers import SIZE, until_screen, wait_until


async def test_the_launcher_starts_on_a_ready_ceremony_and_refuses_a_blocked_one_in_place(initialised, make_app_on):
    app = make_app_on(initialised.home)
    async with app.run_test(size=SIZE) as pilot:
        await until_screen(pilot, "DashboardScreen")
        await pilot.press("c")
        await until_screen(pilot, "CeremoniesScreen")
        screen = app.screen
        await wait_until(pilot, lambda: screen.entries and screen.query_one(OptionList).highlighted is not None)
        names = [e.name for e in screen.entries]
        assert names[0] == "init"  # lifecycle order: init first, blocked on an initialised home
        highlighted = screen.entries[screen.query_one(OptionList).highlighted]
        assert not highlighted.blocked and highlighted.name == "generate-key"
        screen.query_one(OptionList).highlighted = 0
        await pilot.pause()
        await pilot.press("enter")
        detail = screen.query_one("#ceremony-detail", Static)
        await wait_until(pilot, lambda: "init cannot start now (nothing was started)" in str(detail.render()))
        assert type(app.screen).__name__ == "CeremoniesScreen" and not app.ceremony_running
        assert "already initialised" in str(detail.render())
        assert "Enroll the ceremony administrator, the witness and the custodians; set the quorum policy; " \
               "initialise the token" in str(detail.render())  # the purpose reflowed, not TOML's line breaks
