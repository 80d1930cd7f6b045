"""The simulated Ledger's screen and buttons: review flows, Speculos-style screen events.

A review is a list of pages. The right button moves on, the left button back, both buttons
act on the page (accept a warning, skip the rest of a message, sign, reject). The APDU worker
blocks in `Screen.review()` until the person (REST buttons, the terminal) or the auto mode
decides. Between reviews the buttons drive the app's menu (emulator/ledger/menu.py).

A Nano review ends on a status page ("Message signed", "Address verified", ...) that any
button or three seconds dismiss, back to the home page (nbgl_useCaseReviewStatus).

Every page drawn is recorded as Speculos records it (GET /events): one event per text line
(a Nano page's lines are laid out by `nano_text.py`, keeping the space a line broke at, as
Speculos' OCR does), so clients must strip texts before comparing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.ledger.menu import HOME_LINES, AppMenu

log = logging.getLogger(__name__)

# The SDK's STATUS_SCREEN_DURATION (nbgl_use_case.h): how long a status page stays.
STATUS_SECONDS = 3.0
# A review's status pages: (approved, rejected).
Status = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class Page:
    lines: tuple[str, ...]
    # What pressing both buttons does here: "approve", "reject", "accept" (go past a warning)
    # or "skip" (both jump to page `skip_to`), or None (nothing).
    action: str | None = None
    skip_to: int = 0
    # The last step of its sequence (the SDK's LAST_STEP): the right button does nothing.
    last: bool = False


@dataclass
class _Review:
    pages: list[Page]
    index: int = 0
    result: bool | None = None


class Screen:
    """What the device shows, and the buttons that drive it (thread-safe)."""

    def __init__(
        self,
        *,
        auto: str | None = None,
        line_height: int = 12,
        on_page: Callable[[Page], None] | None = None,
    ) -> None:
        self.auto = auto
        self._line_height = line_height
        self._on_page = on_page
        self._lock = threading.Condition()
        self._events: list[dict[str, Any]] = []
        self._current: tuple[str, ...] = ()
        self._review: _Review | None = None
        self._pressed: set[str] = set()
        self._released: set[str] = set()
        self._menu: AppMenu | None = None
        self._drawn = 0  # pages drawn so far: a status page's timer acts only if it is last
        self._status_shown = False
        self.show_idle()

    def attach_menu(self, menu: AppMenu) -> None:
        """The app's menu, which the buttons drive while no review is up."""
        with self._lock:
            self._menu = menu
            self._draw(Page(menu.lines()))

    # -- what is drawn ---------------------------------------------------------------------

    def _draw(self, page: Page) -> None:
        """Record a page like Speculos' screen events; the caller holds the lock."""
        self._current = page.lines
        self._drawn += 1
        self._status_shown = False
        for i, text in enumerate(page.lines):
            self._events.append({"text": text, "x": 0, "y": 3 + i * self._line_height})
        if self._on_page is not None:
            self._on_page(page)

    def show_idle(self) -> None:
        """The app's home page (the menu's first page)."""
        with self._lock:
            if self._menu is not None:
                self._menu.home()
            self._draw(Page(HOME_LINES))

    def show(self, lines: tuple[str, ...]) -> None:
        """An information screen (e.g. an error) that needs no answer."""
        with self._lock:
            self._draw(Page(lines))

    def events(self, current_only: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            if current_only:
                return [
                    {"text": t, "x": 0, "y": 3 + i * self._line_height}
                    for i, t in enumerate(self._current)
                ]
            return list(self._events)

    def clear_events(self) -> None:
        with self._lock:
            self._events.clear()

    @property
    def current_lines(self) -> tuple[str, ...]:
        with self._lock:
            return self._current

    @property
    def reviewing(self) -> bool:
        with self._lock:
            return self._review is not None

    # -- reviews ---------------------------------------------------------------------------

    def _show_status(self, lines: tuple[str, ...]) -> None:
        """The status page after a review; the caller holds the lock."""
        if self._menu is not None:
            self._menu.home()
        self._draw(Page(lines))
        self._status_shown = True
        timer = threading.Timer(STATUS_SECONDS, self._status_timeout, args=(self._drawn,))
        timer.daemon = True
        timer.start()

    def _status_timeout(self, drawn: int) -> None:
        with self._lock:
            if self._status_shown and self._drawn == drawn:
                self._draw(Page(HOME_LINES))

    def review(self, pages: list[Page], status: Status | None = None) -> bool:
        """Show a flow and block until it is approved (True) or rejected (False); then its
        status page, if it has one, else the home page."""
        with self._lock:
            review = _Review(pages)
            self._review = review
            self._draw(pages[0])
            if self.auto is not None:
                # Walk the whole flow as a person would, so /events holds every page.
                for page in pages[1:]:
                    self._draw(page)
                review.result = self.auto == "approve"
            while review.result is None:
                self._lock.wait()
            self._review = None
            if status is not None:
                self._show_status(status[0] if review.result else status[1])
                return review.result
            if self._menu is not None:
                self._menu.home()
            self._draw(Page(HOME_LINES))
            return review.result

    def press(self, button: str) -> None:
        """A press-and-release of "left", "right" or "both"."""
        with self._lock:
            review = self._review
            if review is None and self._status_shown:
                # statusButtonCallback: any button leaves the status page for the home page.
                self._draw(Page(HOME_LINES))
                return
            if review is None:
                self._press_menu(button)
                return
            if review.result is not None:
                return
            page = review.pages[review.index]
            if button == "right" and not page.last:
                review.index = min(review.index + 1, len(review.pages) - 1)
            elif button == "left":
                review.index = max(review.index - 1, 0)
            elif button == "both":
                if page.action == "approve":
                    review.result = True
                elif page.action == "reject":
                    review.result = False
                elif page.action in ("accept", "skip"):
                    review.index = page.skip_to
                else:
                    return
            if review.result is None and review.pages[review.index] is not page:
                self._draw(review.pages[review.index])
            self._lock.notify_all()

    def _press_menu(self, button: str) -> None:
        """A press on the menu; the caller holds the lock."""
        if self._menu is None:
            return
        before = self._menu.lines()
        self._menu.press(button)
        if self._menu.lines() != before or button == "both":
            self._draw(Page(self._menu.lines()))

    def hold(self, button: str, down: bool) -> None:
        """Speculos' separate "press" / "release" actions: a chord fires on full release."""
        with self._lock:
            if down:
                self._pressed.add(button)
                self._released.add(button)
                return
            self._pressed.discard(button)
            if self._pressed:
                return
            chord = self._released
            self._released = set()
        if chord >= {"left", "right"} or "both" in chord:
            self.press("both")
        elif chord:
            self.press(chord.pop())

    def decide(self, approve: bool) -> bool:
        """Answer the pending review at once (the terminal's y/n); False if none is pending."""
        with self._lock:
            if self._review is None or self._review.result is not None:
                return False
            self._review.result = approve
            self._lock.notify_all()
            return True
