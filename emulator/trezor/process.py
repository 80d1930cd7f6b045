"""TrezorSimulatorProcess: the simulated Trezor as a child process, driven over its debug link."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any, Unpack

from trezorlib import messages
from trezorlib.debuglink import DebugLink, LayoutContent
from trezorlib.transport.udp import UdpTransport

from emulator.process import EmulatorOptions, EmulatorProcess, free_port, python_module

# Polling interval for the debug link while waiting for the device to put a screen up.
_POLL_SECONDS = 0.05
# The longest a harness waits for one debug-link answer. trezorlib's UDP reads wait forever,
# so a helper thread reading from an emulator that a test has already stopped would never
# return, and a non-daemon thread that never returns keeps the whole test run from exiting.
DEBUG_READ_TIMEOUT = 10.0


class DebugUdpTransport(UdpTransport):  # type: ignore[misc]  # trezorlib: follow_imports=skip
    """trezorlib's UdpTransport for a harness's debug link: a read gives up after a bound."""

    def read_chunk(self, *, timeout: float | None = None) -> bytes:
        chunk = super().read_chunk(timeout=DEBUG_READ_TIMEOUT if timeout is None else timeout)
        return bytes(chunk)


def udp_trezor_answers(port: int) -> bool:
    """True once a Trezor (simulated or trezor-emu-core) answers PINGPING on 127.0.0.1:PORT."""
    transport = UdpTransport(f"127.0.0.1:{port}")
    try:
        transport.open()
        return bool(transport.is_ready())
    finally:
        transport.close()


class TrezorSimulatorProcess(EmulatorProcess):
    """`signerd-emulator trezor` on a free UDP port pair (wire PORT, debug link PORT+1)."""

    family = "trezor"

    def __init__(
        self,
        *,
        port: int | None = None,
        model: str = "safe3",
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(**options)
        self.port = port if port is not None else free_port(socket.SOCK_DGRAM, count=2)
        self.model = model

    @property
    def path(self) -> str:
        return f"udp:127.0.0.1:{self.port}"

    @property
    def debug_path(self) -> str:
        return f"udp:127.0.0.1:{self.port + 1}"

    def command(self) -> list[str]:
        args = ["--port", str(self.port), "--model", self.model, "--mnemonic", self.mnemonic]
        if self.auto:
            args += ["--auto", self.auto]
        return python_module("emulator.cli", "trezor", *args, *self.extra_args)

    def is_ready(self) -> bool:
        return udp_trezor_answers(self.port)

    @contextlib.contextmanager
    def debuglink(self) -> Iterator[DebugLink]:
        """trezorlib's DebugLink on PORT+1, closed on exit."""
        link = DebugLink(DebugUdpTransport(f"127.0.0.1:{self.port + 1}"))
        try:
            yield link
        finally:
            link.close()

    def read_layout(self) -> LayoutContent:
        """The screen now on the device (read_layout of trezorlib's DebugLink)."""
        with self.debuglink() as link:
            return link.read_layout()

    def wait_for_screen(self, timeout: float = 30.0) -> LayoutContent:
        """Block until the device shows a screen that waits for a press."""
        deadline = time.monotonic() + timeout
        with self.debuglink() as link:
            while True:
                layout = link.read_layout()
                if _sim(layout).get("awaiting_input"):
                    return layout
                if time.monotonic() > deadline:
                    raise TimeoutError("the simulated Trezor showed no screen to confirm")
                time.sleep(_POLL_SECONDS)

    def wait_for_review(self, timeout: float = 30.0) -> LayoutContent:
        return self.wait_for_screen(timeout)

    def press_yes(self, timeout: float = 30.0) -> None:
        """Confirm every screen until the workflow ends, opening each "Show full …" prompt."""
        deadline = time.monotonic() + timeout
        self.wait_for_screen(timeout)
        with self.debuglink() as link:
            pressed = -1
            while True:
                layout = link.read_layout()
                sim = _sim(layout)
                if not sim.get("busy"):
                    return
                if sim.get("awaiting_input") and sim.get("index") != pressed:
                    pressed = int(sim["index"])
                    if sim.get("kind") == "show_more":
                        link.press_info()
                    else:
                        link.press_yes()
                    continue
                if time.monotonic() > deadline:
                    raise TimeoutError("the simulated Trezor workflow did not finish")
                time.sleep(_POLL_SECONDS)

    def press_no(self, timeout: float = 30.0) -> None:
        """Reject the screen on the device (waiting for one to come up)."""
        self.wait_for_screen(timeout)
        with self.debuglink() as link:
            link.press_no()

    def screen_history(self) -> list[LayoutContent]:
        """Every screen of the current (or last) workflow, in order."""
        with self.debuglink() as link:
            state = link.state(messages.DebugWaitType.IMMEDIATE)
        return [LayoutContent([json.dumps(item)]) for item in json.loads(state.layout or b"[]")]

    def screen_text(self) -> str:
        return "\n\n".join(
            "\n".join(filter(None, [layout.title(), layout.screen_content()]))
            for layout in self.screen_history()
        )


def _sim(layout: LayoutContent) -> dict[str, Any]:
    """The simulator's own status block in its layout JSON (index, awaiting_input, busy, kind)."""
    sim = layout.top_level_value("sim")
    return sim if isinstance(sim, dict) else {}
