"""The Ethereum app's home and settings menu on the simulated Ledger, driven by buttons.

Mirrors the SDK's Nano home (ledger-secure-sdk lib_nbgl/src/nbgl_use_case_nanos.c: the home
page "<app> / app is ready", then "App settings", "App info", "Quit app"; a settings page per
switch showing its text, sub-text and "Enabled"/"Disabled", which both buttons toggle
(nbgl_layout_nanos.c), then "Back") with the app's switches and texts (app-ethereum
src/nbgl/ui_home.c). Only the two switches the simulator acts on are listed: "Blind signing"
and "Raw messages", in the app's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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


# (attribute of Settings, text, sub-text): ui_home.c switches, in the app's order.
SWITCHES = (
    ("blind_signing", "Blind signing", "Enable transaction blind signing"),
    ("raw_messages", "Raw messages", "Displays raw content of EIP712 messages"),
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
                (text, sub, "Enabled" if getattr(self.settings, name) else "Disabled")
                for name, text, sub in SWITCHES
            ] + [(BACK_TEXT,)]
        if self.section == "info":
            return [("Version", self.version), ("Developer", "Ledger"), (BACK_TEXT,)]
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
            self.home()
        elif self.section == "settings":
            name = SWITCHES[self.index][0]
            setattr(self.settings, name, not getattr(self.settings, name))
