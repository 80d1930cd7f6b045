"""The Ethereum app's home and settings menu on the simulated Ledger, driven by buttons.

Mirrors the SDK's Nano home (ledger-secure-sdk lib_nbgl/src/nbgl_use_case_nanos.c: the home
page "<app> / app is ready", then "App settings", "App info", "Quit app"; a settings page per
switch showing its text, sub-text and "Enabled"/"Disabled", which both buttons toggle
(nbgl_layout_nanos.c nbgl_layoutAddSwitch: a bold line, two wrapped lines, the state), then
"Back", which returns to the home page the section was entered from) with the app's switches,
texts and infos (app-ethereum src/nbgl/ui_home.c, Nano S Plus build). The simulator acts on
"Blind signing" and "Raw messages" only; the other switches are shown and toggle, no more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.ledger.nano_text import (
    EXTRABOLD_11PX,
    FONT_HEIGHT,
    REGULAR_11PX,
    screen_lines,
    text_area,
)

APP_NAME = "Ethereum"
HOME_LINES = (APP_NAME, "app is ready")
SETTINGS_TEXT = "App settings"
INFO_TEXT = "App info"
QUIT_TEXT = "Quit app"
BACK_TEXT = "Back"


@dataclass
class Settings:
    """The app's settings; off on a fresh device, lost when the simulator restarts."""

    raw_messages: bool = False  # "Raw messages" (N_storage.verbose_eip712)
    blind_signing: bool = False  # "Blind signing" (N_storage.dataAllowed)
    # Shown and toggled only: the simulator signs no transactions.
    nonce: bool = False
    debug_contracts: bool = False
    smart_accounts: bool = False
    transaction_hash: bool = False


# (attribute of Settings, text, sub-text): ui_home.c switches, in the app's order.
SWITCHES = (
    ("blind_signing", "Blind signing", "Enable transaction blind signing"),
    ("nonce", "Nonce", "Display nonce in transactions"),
    ("raw_messages", "Raw messages", "Displays raw content of EIP712 messages"),
    ("debug_contracts", "Debug contracts", "Display contract\ndata details"),
    ("smart_accounts", "Smart accounts", "Enable EIP-7702 authorizations"),
    ("transaction_hash", "Transaction hash", "Always display the transaction hash"),
)
INFOS = (("Version", ""), ("Developer", "Ledger"), ("Copyright", "Ledger (c) 2025"))
# The home page each section is entered from, where its "Back" returns.
SECTION_ENTRY = {"settings": 1, "info": 2}


def switch_lines(text: str, sub_text: str, on: bool) -> tuple[str, ...]:
    """A switch's page as the Nano lays it out (one bold line, two regular, the state)."""
    return screen_lines(
        [
            text_area(EXTRABOLD_11PX, text, 1, 0),
            text_area(REGULAR_11PX, sub_text, 2, FONT_HEIGHT + 2),
            text_area(EXTRABOLD_11PX, "Enabled" if on else "Disabled", 1, 3 * FONT_HEIGHT + 4),
        ]
    )


class AppMenu:
    """Where the person is in the menu; `press` moves or acts, `lines` is the page shown."""

    def __init__(self, settings: Settings, version: str, on_quit: Callable[[], None]) -> None:
        self.settings = settings
        self.version = version
        self.on_quit = on_quit
        self.section = "home"  # "home", "settings" or "info"
        self.index = 0

    def _pages(self) -> list[tuple[str, ...]]:
        if self.section == "settings":
            return [
                switch_lines(text, sub, getattr(self.settings, name))
                for name, text, sub in SWITCHES
            ] + [(BACK_TEXT,)]
        if self.section == "info":
            infos = [(name, value or self.version) for name, value in INFOS]
            return [*infos, (BACK_TEXT,)]
        return [HOME_LINES, (SETTINGS_TEXT,), (INFO_TEXT,), (QUIT_TEXT,)]

    def lines(self) -> tuple[str, ...]:
        return self._pages()[self.index]

    def home(self) -> None:
        self.section, self.index = "home", 0

    def press(self, button: str) -> None:
        pages = self._pages()
        if button == "right":
            self.index = min(self.index + 1, len(pages) - 1)
        elif button == "left":
            self.index = max(self.index - 1, 0)
        elif button == "both":
            self._act(pages[self.index])

    def _act(self, page: tuple[str, ...]) -> None:
        if self.section == "home":
            if page == (SETTINGS_TEXT,):
                self.section, self.index = "settings", 0
            elif page == (INFO_TEXT,):
                self.section, self.index = "info", 0
            elif page == (QUIT_TEXT,):
                self.on_quit()
        elif page == (BACK_TEXT,):
            self.section, self.index = "home", SECTION_ENTRY[self.section]
        elif self.section == "settings":
            name = SWITCHES[self.index][0]
            setattr(self.settings, name, not getattr(self.settings, name))
