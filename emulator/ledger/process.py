"""The simulated Ledger as a child process, driven through its Speculos-compatible REST API.

`press_yes` walks a review the way a test walks one on real Speculos: right until an
approval page ("Sign ...", "Approve", "Accept"), both buttons on a "Blind signing ahead"
warning, then both buttons on the approval page. Screen texts are stripped, since Speculos
reports some with trailing spaces.
"""

from __future__ import annotations

import time
from typing import Unpack

from emulator.process import EmulatorOptions, python_module
from emulator.speculos import SpeculosLikeProcess

APPROVE_PREFIXES = ("Sign message", "Sign typed message", "Approve", "Accept")
REJECT_TEXT = "Reject"
WARNING_TEXT = "Blind signing ahead"
IDLE_TEXT = "Ethereum"
MAX_PAGES = 500


class LedgerSimulatorProcess(SpeculosLikeProcess):
    """`signerd-emulator ledger` on a free pair of ports (APDU, REST API)."""

    def __init__(
        self,
        *,
        model: str = "nanosp",
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(**options)
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

    def wait_for_review(self, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.current_screen()
            if lines and lines[0] != IDLE_TEXT:
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError("no review on the simulated Ledger's screen")
            time.sleep(0.05)

    def press_yes(self, timeout: float = 30.0) -> None:
        lines = self.wait_for_review(timeout)
        for _ in range(MAX_PAGES):
            if lines and lines[0].startswith(APPROVE_PREFIXES):
                self.press("both")
                return
            self.press("both" if lines and lines[0] == WARNING_TEXT else "right")
            lines = self.current_screen()
        raise RuntimeError("no approval page found in the review")

    def press_no(self, timeout: float = 30.0) -> None:
        lines = self.wait_for_review(timeout)
        for _ in range(MAX_PAGES):
            if lines and lines[0] == REJECT_TEXT:
                self.press("both")
                return
            self.press("both" if lines and lines[0] == WARNING_TEXT else "right")
            lines = self.current_screen()
        raise RuntimeError("no reject page found in the review")

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
