"""Speculos' REST API and the Nano review walker, shared by both Ledger launchers.

The simulated Ledger (`launch.py`) and the real Speculos (`speculos_launch.py`) both take
APDUs with Speculos' framing on one TCP port and are driven through Speculos' REST API on
the next (buttons, screen events). `SpeculosLikeProcess` holds that API and walks a Nano
review as a person does, recognising the Ethereum app's pages by their texts.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import urllib.request
from collections.abc import Callable
from typing import Any, Unpack

from emulator.process import EmulatorOptions, EmulatorProcess, free_port
from signerd.launch import wait_until

# A long press holds its REST request open for the whole press.
REST_TIMEOUT = 30.0
# How long a walker waits for the screen to change after a press.
SCREEN_CHANGE_SECONDS = 2.0

# The Ethereum app's texts (app-ethereum src/nbgl/ui_sign_712.c, ui_home.c; the SDK's
# nbgl_use_case_nanos.c getLastPageInfo; the simulator reproduces them). Nano: "Sign message"
# ends the review, "Confirm" an address review; Stax/Flex: "Sign typed message?".
APPROVE_PREFIXES = ("Sign message", "Sign typed message", "Accept risk and sign", "Confirm")
# The warning before raw EIP-712 fields ("Blind signing ahead"); accepted with both buttons.
WARNING_PREFIX = "Blind signing ahead"
# "Reject message" / "Reject transaction" / "Reject operation"; "Cancel" ends an address review.
REJECT_PREFIXES = ("Reject", "Cancel")
# Pages where both buttons skip the rest of a review: the Nano's "Press right button to
# continue message or press both to skip" (its first line, as a Nano wraps it) and the
# simulated Stax/Flex "Skip" header.
SKIP_PREFIXES = ("Press right button to", "Skip")
# The status page the SDK shows for about 3 s after a review (nbgl_useCaseReviewStatus:
# "Message signed", "Transaction rejected", "Address verified", ...): not a review.
STATUS_SUFFIXES = (" signed", " rejected", " verified", " verification cancelled")
MAX_PAGES = 500
# The header of one page of a value the Nano splits over several (the SDK's nbgl_step.c).
PAGE_HEADER = re.compile(r".+ \((\d+)/\d+\)")

# A screen as the walkers see it: its texts, stripped.
Lines = list[str]


def is_approval(lines: Lines) -> bool:
    return any(line.startswith(APPROVE_PREFIXES) for line in lines)


def is_rejection(lines: Lines) -> bool:
    return any(line.startswith(REJECT_PREFIXES) for line in lines)


def is_status(lines: Lines) -> bool:
    # A Nano wraps "Address verification cancelled" over two lines.
    return len(lines) <= 2 and " ".join(lines).endswith(STATUS_SUFFIXES)


def is_warning(lines: Lines) -> bool:
    return any(line.startswith(WARNING_PREFIX) for line in lines)


def _is_continued_page_header(line: str) -> bool:
    """A "name (k/n)" header, k > 1: the value on the pages before goes on below it."""
    match = PAGE_HEADER.fullmatch(line)
    return match is not None and int(match.group(1)) > 1


def showing(texts: tuple[str, ...]) -> Callable[[Lines], bool]:
    """A test for a screen that shows one of `texts` as a whole line."""
    return lambda lines: any(line in texts for line in lines)


class SpeculosLikeProcess(EmulatorProcess):
    """An emulator with Speculos' APDU framing on one port and its REST API on the next."""

    family = "ledger"

    def __init__(self, **options: Unpack[EmulatorOptions]) -> None:
        super().__init__(**options)
        # One probe for both ports, so that the two never collide.
        self.apdu_port = free_port(count=2)
        self.api_port = self.apdu_port + 1
        # The app's home screen, as shown once it answers: anything else is a review.
        self.home: Lines = []

    @property
    def path(self) -> str:
        return f"tcp:127.0.0.1:{self.apdu_port}"

    def is_ready(self) -> bool:
        try:
            self._rest("GET", "/events?currentscreenonly=true")
        except (OSError, http.client.HTTPException):
            return False
        # Both ports are checked so that a caller never races the APDU listener.
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.apdu_port), timeout=1),
        ):
            return True
        return False

    def prepare(self, timeout: float) -> None:
        self.home = wait_until(self.current_screen, timeout, what=f"the {self.name}'s screen")

    # -- REST API --

    def _rest(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{route}",
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=REST_TIMEOUT) as response:
            return json.loads(response.read() or b"{}")

    def press(self, button: str) -> None:
        """Press and release "left", "right" or "both" (POST /button/...)."""
        self._rest("POST", f"/button/{button}", {"action": "press-and-release"})

    def current_events(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._rest("GET", "/events?currentscreenonly=true")["events"]
        return events

    def current_screen(self) -> Lines:
        """Texts on the screen now, stripped (Speculos' OCR leaves trailing spaces)."""
        return [str(e["text"]).strip() for e in self.current_events()]

    def screen_text(self) -> str:
        """Every text shown since the events were last cleared, one per line."""
        return "\n".join(str(e["text"]).strip() for e in self._rest("GET", "/events")["events"])

    def shows(self, text: str, *, ignore_case: bool = False) -> bool:
        """Whether `text` was shown since the events were cleared, also when a Nano wrapped
        it over lines and "name (1/2)", "name (2/2)" pages.

        Speculos reports a line the SDK broke at a space with that space at its end, and one
        broken inside a word (an address) without: the raw lines, less the headers of the
        pages after a value's first, join back into the value with nothing between them.
        """
        if super().shows(text, ignore_case=ignore_case):
            return True
        texts = [str(event["text"]) for event in self._rest("GET", "/events")["events"]]
        joined = "".join(t for t in texts if not _is_continued_page_header(t.strip()))
        return text.lower() in joined.lower() if ignore_case else text in joined

    def clear_events(self) -> None:
        self._rest("DELETE", "/events")

    # -- the Nano review walker --

    def wait_for_review(self, timeout: float = 30.0) -> Lines:
        def review() -> Lines | None:
            lines = self.current_screen()
            if not lines or lines == self.home or is_status(lines):
                return None
            return lines

        return wait_until(review, timeout, what=f"a review on the {self.name}")

    def next_screen(self, previous: Lines) -> Lines:
        """The screen after a press: waits briefly for it to differ from `previous`."""

        def changed() -> Lines | None:
            lines = self.current_screen()
            return lines if lines and lines != previous else None

        with contextlib.suppress(TimeoutError):
            return wait_until(changed, SCREEN_CHANGE_SECONDS, what="the next screen")
        return self.current_screen()

    def step_until(
        self, found: Callable[[Lines], bool], limit: int, *, through_warnings: bool, what: str
    ) -> Lines:
        """Press right until `found(screen)` (both buttons on a warning, if asked); the screen.

        Menus have a "Blind signing" setting, so only a review accepts warnings.
        """
        lines = self.current_screen()
        for _ in range(limit):
            if found(lines):
                return lines
            self.press("both" if through_warnings and is_warning(lines) else "right")
            lines = self.next_screen(lines)
        raise RuntimeError(f"no {what} in {limit} pages (last screen: {lines})")

    def walk_review(self, last: Callable[[Lines], bool], what: str, timeout: float) -> None:
        """Walk a Nano review as a person does: right through the pages, both buttons on
        "Blind signing ahead", then both on the page `last` picks."""
        self.wait_for_review(timeout)
        self.step_until(last, MAX_PAGES, through_warnings=True, what=what)
        self.press("both")

    def press_yes(self, timeout: float = 30.0) -> None:
        self.walk_review(is_approval, "approval page", timeout)

    def press_no(self, timeout: float = 30.0) -> None:
        self.walk_review(is_rejection, "reject page", timeout)
