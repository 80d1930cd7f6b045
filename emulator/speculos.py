"""What the simulated Ledger and the real Speculos share: an APDU port and Speculos' REST API.

Both are driven the same way (buttons, screen events); only how they are started and how a
review is walked differ.
"""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.request
from typing import Any, Unpack

from emulator.process import EmulatorOptions, EmulatorProcess, free_port

# A long press holds its REST request open for the whole press.
REST_TIMEOUT = 30.0


class SpeculosLikeProcess(EmulatorProcess):
    """An emulator with Speculos' APDU framing on one port and its REST API on the next."""

    family = "ledger"

    def __init__(self, **options: Unpack[EmulatorOptions]) -> None:
        super().__init__(**options)
        # One probe for both ports, so that the two never collide.
        self.apdu_port = free_port(count=2)
        self.api_port = self.apdu_port + 1

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

    def current_screen(self) -> list[str]:
        """Texts on the screen now, stripped (Speculos' OCR leaves trailing spaces)."""
        return [str(e["text"]).strip() for e in self.current_events()]

    def screen_text(self) -> str:
        """Every text shown since the events were last cleared, one per line."""
        return "\n".join(str(e["text"]).strip() for e in self._rest("GET", "/events")["events"])

    def clear_events(self) -> None:
        self._rest("DELETE", "/events")
