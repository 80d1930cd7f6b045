"""The simulated Ledger as a child process, driven through its Speculos-compatible REST API.

`press_yes` walks a review the way a test walks one on real Speculos: right until an
approval page ("Sign ...", "Approve", "Accept"), both buttons on a "Blind signing ahead"
warning, then both buttons on the approval page. Screen texts are stripped, since Speculos
reports some with trailing spaces.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

from emulator.keys import DEFAULT_MNEMONIC
from emulator.process import EmulatorProcess, free_port, python_module

APPROVE_PREFIXES = ("Sign message", "Sign typed message", "Approve", "Accept")
REJECT_TEXT = "Reject"
WARNING_TEXT = "Blind signing ahead"
IDLE_TEXT = "Ethereum"
MAX_PAGES = 500


class LedgerSimulatorProcess(EmulatorProcess):
    family = "ledger"

    def __init__(
        self,
        *,
        model: str = "nanosp",
        mnemonic: str = DEFAULT_MNEMONIC,
        auto: str | None = None,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        super().__init__(
            mnemonic=mnemonic,
            auto=auto,
            extra_args=extra_args,
            log_path=log_path,
            inherit_output=inherit_output,
        )
        self.model = model
        # One probe for both ports, so that the two never collide.
        self.apdu_port = free_port(count=2)
        self.api_port = self.apdu_port + 1

    @property
    def path(self) -> str:
        return f"tcp:127.0.0.1:{self.apdu_port}"

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

    def is_ready(self) -> bool:
        try:
            self._rest("GET", "/model")
        except OSError:
            return False
        # Speculos accepts APDU clients as soon as its REST API answers; so does the
        # simulator, but both ports are checked so that a caller never races the listener.
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.apdu_port), timeout=1),
        ):
            return True
        return False

    def _rest(self, method: str, route: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{route}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def press(self, button: str) -> None:
        """A press-and-release of "left", "right" or "both" (POST /button/...)."""
        self._rest("POST", f"/button/{button}", {"action": "press-and-release"})

    def current_screen(self) -> list[str]:
        """The texts on the screen right now, stripped."""
        events = self._rest("GET", "/events?currentscreenonly=true")["events"]
        return [str(e["text"]).strip() for e in events]

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

    def screen_text(self) -> str:
        events = self._rest("GET", "/events")["events"]
        return "\n".join(str(e["text"]).strip() for e in events)

    def clear_events(self) -> None:
        self._rest("DELETE", "/events")

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
