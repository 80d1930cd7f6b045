"""The simulated Ledger (`signerd-emulator ledger`) as a child process, for tests and tools.

It speaks Speculos' APDU framing and REST API, so it shares `speculos_api.py`'s walker with
the real Speculos (`speculos_launch.py`), and adds the simulator's own REST extensions
(settings, auto-answer, device state) and a fewest-presses approval walk.
"""

from __future__ import annotations

from typing import Unpack

from emulator.ledger.speculos_api import (
    MAX_PAGES,
    SKIP_PREFIXES,
    Lines,
    SpeculosLikeProcess,
    is_approval,
    is_warning,
)
from emulator.process import EmulatorOptions
from signerd.launch import python_module


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
