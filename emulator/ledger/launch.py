"""Ledger launchers: the simulated Ledger and the real Speculos, side by side.

Both take APDUs with Speculos' framing on one TCP port and are driven through Speculos' REST
API on the next (buttons, screen events); one Nano review walker serves both. They differ
in how they start, and Speculos on a Stax or Flex is driven by touch instead.

Speculos and the Ethereum app ELF do not ship with the project; the test suite runs Speculos
only when the environment points at it (emulator/README.md):

    SIGNERD_SPECULOS_ELF=/path/app-ethereum.elf  [SIGNERD_SPECULOS_MODEL=nanosp|nanox|stax|flex]
    [SIGNERD_SPECULOS_PYTHON=/path/python  (an interpreter with `pip install speculos`)]

Speculos 0.27 hard-codes 0.0.0.0 for its APDU, REST, button and finger servers, so the
launcher starts it behind a bind patch and checks its sockets in /proc (emulator/loopback.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, Unpack

from emulator.loopback import LOOPBACK_PATCH, check_loopback
from emulator.process import EmulatorOptions, EmulatorProcess, free_port
from signerd.launch import python_module, wait_until

ENV_SPECULOS_ELF = "SIGNERD_SPECULOS_ELF"
ENV_SPECULOS_MODEL = "SIGNERD_SPECULOS_MODEL"
ENV_SPECULOS_PYTHON = "SIGNERD_SPECULOS_PYTHON"

SPECULOS_MODELS = ("nanosp", "nanox", "stax", "flex")
TOUCH_MODELS = ("stax", "flex")

# Speculos' own main() behind the loopback patch, run with `python -c` in its interpreter.
SPECULOS_BOOTSTRAP = (
    LOOPBACK_PATCH
    + "import sys\nsys.argv[0] = 'speculos'\nfrom speculos.main import main\nmain()\n"
)

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
# continue message or press both to skip" and the simulated Stax/Flex "Skip" header.
SKIP_PREFIXES = ("Press right button to continue", "Skip")
# "App settings" on the SDK's home menu; older apps said "Settings".
SETTINGS_TEXTS = ("App settings", "Settings")
# "Raw messages" is N_storage.verbose_eip712; older app versions called it "Verbose EIP712".
RAW_MESSAGES_TEXTS = ("Raw messages", "Verbose EIP712")
# The status page the SDK shows for about 3 s after a review (nbgl_useCaseReviewStatus:
# "Message signed", "Transaction rejected", "Address verified", ...): not a review.
STATUS_SUFFIXES = (" signed", " rejected", " verified", " verification cancelled")
BACK_TEXT = "Back"
MAX_PAGES = 500
MENU_PAGES = 12

# Touch positions from ragger (src/ragger/firmware/touch/positions.py, "UseCaseReview" and
# "UseCaseChoice"): next page, hold-to-sign, reject, and the choice's confirm button.
TOUCH_POSITIONS: dict[str, dict[str, tuple[int, int]]] = {
    "stax": {"next": (342, 606), "confirm": (200, 515), "reject": (36, 606)},
    "flex": {"next": (430, 550), "confirm": (240, 435), "reject": (55, 530)},
}
# ragger's UseCaseReview.confirm: "SDK needs at least 2.4s for long press".
HOLD_SECONDS = 3.0
# Texts tapped where Speculos reports them: go past a warning; confirm a rejection.
CONTINUE_TEXT = "Continue anyway"
YES_REJECT_TEXT = "Yes, reject"

# A screen as the walkers see it: its texts, stripped.
Lines = list[str]


def is_approval(lines: Lines) -> bool:
    return any(line.startswith(APPROVE_PREFIXES) for line in lines)


def is_rejection(lines: Lines) -> bool:
    return any(line.startswith(REJECT_PREFIXES) for line in lines)


def is_status(lines: Lines) -> bool:
    return len(lines) <= 2 and any(line.endswith(STATUS_SUFFIXES) for line in lines)


def is_warning(lines: Lines) -> bool:
    return any(line.startswith(WARNING_PREFIX) for line in lines)


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
        except OSError:
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


class LedgerSimulatorProcess(SpeculosLikeProcess):
    """`signerd-emulator ledger` on a free pair of ports (APDU, REST API).

    Driven by buttons on every model (a simulated Stax walks its review like a Nano).
    """

    def __init__(self, *, model: str = "nanosp", **options: Unpack[EmulatorOptions]) -> None:
        super().__init__(**options)
        self.name = "simulated Ledger"
        self.model = model

    def command(self) -> list[str]:
        args = [
            "ledger",
            "--apdu-port",
            str(self.apdu_port),
            "--api-port",
            str(self.api_port),
            "--mnemonic",
            self.mnemonic,
            "--model",
            self.model,
        ]
        if self.auto:
            args += ["--auto", self.auto]
        return python_module("emulator.cli", *args, *self.extra_args)

    def set_settings(
        self, *, raw_messages: bool | None = None, blind_signing: bool | None = None
    ) -> None:
        """Toggle the app's settings (simulator extension POST /settings)."""
        body = {
            k: v
            for k, v in (("raw_messages", raw_messages), ("blind_signing", blind_signing))
            if v is not None
        }
        self._rest("POST", "/settings", body)

    def set_auto(self, mode: str | None) -> None:
        """Answer reviews at once: "approve", "reject", or None for manual (POST /auto)."""
        self._rest("POST", "/auto", {"mode": mode})

    def set_state(self, state: str) -> None:
        """ "app", "dashboard" or "locked" (simulator extension POST /state)."""
        self._rest("POST", "/state", {"state": state})

    def press_shortest(self, timeout: float = 30.0, skip_at: int = 1) -> list[Lines]:
        """Approve with the fewest presses: both on the warning, on the `skip_at`-th page that
        offers to skip the rest (right on earlier ones) and on the approval page; right
        elsewhere. The screens seen, in order."""
        lines = self.wait_for_review(timeout)
        seen, skips = [lines], 0
        while not is_approval(lines) and len(seen) < MAX_PAGES:
            skip = any(line.startswith(SKIP_PREFIXES) for line in lines)
            skips += skip
            both = is_warning(lines) or (skip and skips >= skip_at)
            self.press("both" if both else "right")
            lines = self.next_screen(lines)
            seen.append(lines)
        if not is_approval(lines):
            raise RuntimeError(f"no approval page in {MAX_PAGES} pages")
        self.press("both")
        return seen


class SpeculosProcess(SpeculosLikeProcess):
    """The real Speculos running the Ethereum app, driven through its REST API."""

    start_timeout = 60.0

    def __init__(
        self,
        elf: Path,
        *,
        model: str = "nanosp",
        python: str | None = None,
        raw_messages: bool = True,
        **options: Unpack[EmulatorOptions],
    ) -> None:
        if model not in SPECULOS_MODELS:
            raise ValueError(f"Speculos model must be one of {SPECULOS_MODELS}, not {model!r}")
        super().__init__(**options)
        self.name = "Speculos"
        self.elf = elf
        self.model = model
        self.python = python or sys.executable
        self.raw_messages = raw_messages

    @classmethod
    def from_environment(cls, **options: Any) -> Self | None:
        """A launcher for $SIGNERD_SPECULOS_ELF, or None when the variable is not set."""
        elf = os.environ.get(ENV_SPECULOS_ELF)
        if not elf:
            return None
        return cls(
            Path(elf),
            model=os.environ.get(ENV_SPECULOS_MODEL, "nanosp"),
            python=os.environ.get(ENV_SPECULOS_PYTHON) or None,
            **options,
        )

    @property
    def touch(self) -> bool:
        return self.model in TOUCH_MODELS

    def command(self) -> list[str]:
        return [
            self.python,
            "-c",
            SPECULOS_BOOTSTRAP,
            str(self.elf),
            "--model",
            self.model,
            "--seed",
            self.mnemonic,
            "--display",
            "headless",
            "--apdu-port",
            str(self.apdu_port),
            "--api-port",
            str(self.api_port),
            *self.extra_args,
        ]

    def prepare(self, timeout: float) -> None:
        assert self.proc is not None
        check_loopback(self.proc.pid, {self.apdu_port, self.api_port})
        super().prepare(timeout)
        if self.raw_messages and not self.touch:
            self.enable_raw_messages()

    def enable_raw_messages(self) -> None:
        """Turn on "Raw messages" with the buttons, as a person would (settings start off).

        Home -> right until "App settings", both; right until "Raw messages", both (toggle);
        right until "Back", both (ledger_app_clients.ethereum.settings walks the same menu).
        """
        for texts in (SETTINGS_TEXTS, RAW_MESSAGES_TEXTS, (BACK_TEXT,)):
            what = f"{texts[0]!r} in the app's menu"
            self.step_until(showing(texts), MENU_PAGES, through_warnings=False, what=what)
            self.press("both")
        self.home = self.next_screen(self.current_screen())

    # -- Stax / Flex --

    def touch_at(self, x: int, y: int, hold: float = 0.1) -> None:
        """Tap (or hold for `hold` seconds) at x, y (Stax / Flex)."""
        self._rest(
            "POST", "/finger", {"action": "press-and-release", "x": x, "y": y, "delay": hold}
        )

    def _tap_text(self, text: str) -> bool:
        """Tap the middle of `text` if it is on the screen (Speculos reports its box)."""
        for event in self.current_events():
            if str(event["text"]).strip() == text:
                self.touch_at(
                    int(event["x"]) + int(event.get("w", 0)) // 2,
                    int(event["y"]) + int(event.get("h", 0)) // 2,
                )
                return True
        return False

    def press_yes(self, timeout: float = 30.0) -> None:
        if not self.touch:
            super().press_yes(timeout)
            return
        positions = TOUCH_POSITIONS[self.model]
        lines = self.wait_for_review(timeout)
        for _ in range(MAX_PAGES):
            if is_approval(lines):
                self.touch_at(*positions["confirm"], hold=HOLD_SECONDS)
                return
            if not self._tap_text(CONTINUE_TEXT):
                self.touch_at(*positions["next"])
            lines = self.next_screen(lines)
        raise RuntimeError("no approval page found in the review")

    def press_no(self, timeout: float = 30.0) -> None:
        if not self.touch:
            super().press_no(timeout)
            return
        positions = TOUCH_POSITIONS[self.model]
        lines = self.wait_for_review(timeout)
        self.touch_at(*positions["reject"])
        self.next_screen(lines)
        if not self._tap_text(YES_REJECT_TEXT):
            self.touch_at(*positions["confirm"])
