"""The real Speculos running the Ledger Ethereum app, started and driven like the simulator.

Speculos and the Ethereum app ELF do not ship with the project; the test suite runs Speculos
only when the environment points at it (emulator/README.md):

    SIGNERD_SPECULOS_ELF=/path/app-ethereum.elf  [SIGNERD_SPECULOS_MODEL=nanosp|nanox|stax|flex]
    [SIGNERD_SPECULOS_PYTHON=/path/python  (an interpreter with `pip install speculos`)]

Speculos 0.27 hard-codes 0.0.0.0 for its APDU, REST, button and finger servers, so the
launcher starts it behind a bind patch and checks its sockets in /proc (emulator/loopback.py).
A Nano is walked by `speculos_api.py`'s button walker; a Stax or Flex is driven by touch.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Self, Unpack

from emulator.ledger.speculos_api import MAX_PAGES, SpeculosLikeProcess, is_approval, showing
from emulator.loopback import LOOPBACK_PATCH, check_loopback
from emulator.process import EmulatorOptions

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

# "App settings" on the SDK's home menu; older apps said "Settings".
SETTINGS_TEXTS = ("App settings", "Settings")
# "Raw messages" is N_storage.verbose_eip712; older app versions called it "Verbose EIP712".
RAW_MESSAGES_TEXTS = ("Raw messages", "Verbose EIP712")
BACK_TEXT = "Back"
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
        right until "Back", both (ledger_app_clients.ethereum.settings walks the same menu);
        then left, back to the home page.
        """
        for texts in (SETTINGS_TEXTS, RAW_MESSAGES_TEXTS, (BACK_TEXT,)):
            what = f"{texts[0]!r} in the app's menu"
            lines = self.step_until(showing(texts), MENU_PAGES, through_warnings=False, what=what)
            self.press("both")
        self.return_home(self.next_screen(lines))

    def return_home(self, lines: list[str]) -> None:
        """Press left until the home page shows again.

        "Back" leaves the settings on the home menu's "App settings" page, while a finished
        review returns to the home page ("<app> / app is ready"): left from the menu leads
        there, so the screen a review is told from stays the one the app comes back to.
        """
        for _ in range(MENU_PAGES):
            if lines == self.home:
                return
            self.press("left")
            lines = self.next_screen(lines)
        raise RuntimeError(f"the home page {self.home} did not come back (last screen: {lines})")

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
