"""Screens of the console: the top-level areas, the welcome screen and the ceremony wizard."""

from console.screens.ceremonies import CeremoniesScreen
from console.screens.dashboard import DashboardScreen
from console.screens.inventory import InventoryScreen
from console.screens.ledger import LedgerScreen
from console.screens.people import PeopleScreen

AREA_SCREENS = {
    "dashboard": DashboardScreen,
    "keys": InventoryScreen,
    "people": PeopleScreen,
    "ledger": LedgerScreen,
    "ceremonies": CeremoniesScreen,
}

__all__ = ["AREA_SCREENS", "CeremoniesScreen", "DashboardScreen", "InventoryScreen", "LedgerScreen", "PeopleScreen"]
