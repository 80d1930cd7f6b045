"""Trezor launchers: the simulated Trezor and a real trezor-emu-core, side by side.

Both speak protocol v1 over UDP on PORT and take their button presses over trezorlib's
debug link on PORT+1; they differ in how they start, in what a screen "waiting for the
person" looks like, and in how a whole flow is confirmed.

trezor-emu-core does not ship with the project (build it from trezor/trezor-firmware); the
test suite runs it only when $SIGNERD_TREZOR_EMU points at the binary (emulator/README.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self, Unpack

from trezorlib import messages, models
from trezorlib.debuglink import DebugLink, LayoutContent, LayoutType, TrezorTestContext
from trezorlib.debuglink import load_device as trezor_load_device
from trezorlib.transport.udp import UdpTransport

from emulator.loopback import check_loopback
from emulator.process import EmulatorOptions, EmulatorProcess, free_port
from signerd.launch import python_module, wait_until

ENV_TREZOR_EMU = "SIGNERD_TREZOR_EMU"

# The longest a harness waits for one debug-link answer. trezorlib's UDP reads wait forever,
# so a helper thread reading from an emulator that a test has already stopped would never
# return, and a non-daemon thread that never returns keeps the whole test run from exiting.
DEBUG_READ_TIMEOUT = 10.0

# trezor-firmware tests/input_flows.py (InputFlowEIP712ShowMore): where "Show full ..." is.
TREZOR_SHOW_MORE_CLICK = (143, 167)  # Model T (Bolt) and Safe 5 (Delizia)
SHOW_MORE_TEXT = "show full"
HOME_COMPONENT = "Homescreen"


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


class UdpTrezorProcess(EmulatorProcess):
    """A Trezor on UDP: wire link on PORT, debug link on PORT+1."""

    family = "trezor"
    # What trezorlib's DebugLink needs to know of the firmware to pick its wait modes and
    # screen geometry; unknown (trezorlib's defaults) for the simulator.
    firmware_model: models.TrezorModel | None = None
    firmware_version: tuple[int, int, int] = (0, 0, 0)

    def __init__(self, *, port: int, **options: Unpack[EmulatorOptions]) -> None:
        super().__init__(**options)
        self.port = port

    @property
    def path(self) -> str:
        return f"udp:127.0.0.1:{self.port}"

    @property
    def debug_path(self) -> str:
        return f"udp:127.0.0.1:{self.port + 1}"

    def is_ready(self) -> bool:
        return udp_trezor_answers(self.port)

    @contextlib.contextmanager
    def debuglink(self) -> Iterator[DebugLink]:
        """trezorlib's DebugLink on PORT+1, closed on exit."""
        link = DebugLink(DebugUdpTransport(f"127.0.0.1:{self.port + 1}"))
        link.model, link.version = self.firmware_model, self.firmware_version
        try:
            yield link
        finally:
            link.close()

    @abstractmethod
    def review_on_screen(self, link: DebugLink) -> LayoutContent | None:
        """The screen now if it waits for the person, else None."""

    def wait_for_review(self, timeout: float = 30.0) -> LayoutContent:
        with self.debuglink() as link:
            return wait_until(
                lambda: self.review_on_screen(link), timeout, what=f"a screen on the {self.name}"
            )

    def press_no(self, timeout: float = 30.0) -> None:
        """Reject the screen on the device (waiting for one to come up)."""
        self.wait_for_review(timeout)
        with self.debuglink() as link:
            link.press_no()


class TrezorSimulatorProcess(UdpTrezorProcess):
    """`signerd-emulator trezor` on a free UDP port pair (wire PORT, debug link PORT+1)."""

    def __init__(
        self,
        *,
        port: int | None = None,
        model: str = "safe3",
        **options: Unpack[EmulatorOptions],
    ) -> None:
        super().__init__(
            port=port if port is not None else free_port(socket.SOCK_DGRAM, count=2), **options
        )
        self.name = "simulated Trezor"
        self.model = model

    def command(self) -> list[str]:
        args = ["--port", str(self.port), "--model", self.model, "--mnemonic", self.mnemonic]
        if self.auto:
            args += ["--auto", self.auto]
        return python_module("emulator.cli", "trezor", *args, *self.extra_args)

    def read_layout(self) -> LayoutContent:
        """The screen now on the device (read_layout of trezorlib's DebugLink)."""
        with self.debuglink() as link:
            return link.read_layout()

    def review_on_screen(self, link: DebugLink) -> LayoutContent | None:
        layout = link.read_layout()
        return layout if _sim(layout).get("awaiting_input") else None

    def press_yes(self, timeout: float = 30.0) -> None:
        """Confirm every screen until the workflow ends, opening each "Show full …" prompt."""
        flow = _sim(self.wait_for_review(timeout)).get("flow")
        pressed = -1

        def confirm_waiting_screens(link: DebugLink) -> bool:
            """Press each screen that waits (once); True when the workflow is over."""
            nonlocal pressed
            while True:
                sim = _sim(link.read_layout())
                if not sim.get("busy") or sim.get("flow") != flow:
                    return True  # over (the next request's review is not ours to confirm)
                if not sim.get("awaiting_input") or sim.get("index") == pressed:
                    return False
                pressed = int(sim["index"])
                if sim.get("kind") == "show_more":
                    link.press_info()
                else:
                    link.press_yes()

        with self.debuglink() as link:
            wait_until(
                lambda: confirm_waiting_screens(link), timeout, what="the workflow to finish"
            )

    def press_shortest(self, timeout: float = 30.0) -> list[LayoutContent]:
        """Approve by the shortest path a person can take: confirm every screen as it comes,
        never opening a "Show full …" but reading every page of a paged screen (the Model T
        confirms on the last page); the screens seen, read while they wait (the firmware
        keeps no history, so this is what a test can learn from the real device too)."""
        flow = _sim(self.wait_for_review(timeout)).get("flow")
        seen: list[LayoutContent] = []
        pressed = -1

        def confirm_waiting_screens(link: DebugLink) -> bool:
            nonlocal pressed
            layout = link.read_layout()
            sim = _sim(layout)
            if not sim.get("busy") or sim.get("flow") != flow:
                return True
            if sim.get("awaiting_input") and sim.get("index") != pressed:
                pressed = int(sim["index"])
                seen.append(layout)
                # A paged Model T screen confirms on its last page only: swipe to it.
                if layout.active_page() < layout.page_count() - 1:
                    link.swipe_up()
                else:
                    link.press_yes()
            return False

        with self.debuglink() as link:
            wait_until(
                lambda: confirm_waiting_screens(link), timeout, what="the workflow to finish"
            )
        return seen

    def screen_history(self) -> list[LayoutContent]:
        """Every screen of the current (or last) workflow, in order."""
        with self.debuglink() as link:
            state = link.state(messages.DebugWaitType.IMMEDIATE)
        return [LayoutContent([json.dumps(item)]) for item in json.loads(state.layout or b"[]")]

    def screen_text(self) -> str:
        return "\n\n".join(_layout_text(layout) for layout in self.screen_history())


class TrezorEmulatorProcess(UdpTrezorProcess):
    """A real trezor-emu-core (unix build of the Trezor firmware), seeded over its debug link.

    Keeps to loopback: trezor-emu-core binds its UDP ports on 127.0.0.1, which start()
    checks in /proc (emulator/loopback.py).
    """

    def __init__(
        self, binary: Path, *, profile_dir: Path, **options: Unpack[EmulatorOptions]
    ) -> None:
        # Wire link PORT, debug link PORT+1, then FIDO, VCP and BLE on PORT+2..PORT+5.
        super().__init__(port=free_port(socket.SOCK_DGRAM, count=6), **options)
        self.name = "trezor-emu-core"
        self.start_timeout = 60.0
        self.binary = binary
        self.profile_dir = profile_dir
        self.seen: list[LayoutContent] = []  # what press_yes read, screen by screen

    @classmethod
    def from_environment(cls, profile_dir: Path, **options: Any) -> Self | None:
        """A launcher for $SIGNERD_TREZOR_EMU, or None when the variable is not set."""
        binary = os.environ.get(ENV_TREZOR_EMU)
        return cls(Path(binary), profile_dir=profile_dir, **options) if binary else None

    def command(self) -> list[str]:
        """`env -C WORKDIR VARS... trezor-emu-core -O0 -X heapsize=20M -m main`.

        Arguments and environment as trezorlib's _internal.emulator.CoreEmulator sets them
        (headless, no animations, profile and port). A build with frozen modules runs
        anywhere; a non-frozen one needs core/src as its working directory.
        """
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        sources = self.binary.resolve().parent.parent.parent / "src"
        workdir = sources if (sources / "main.py").exists() else self.profile_dir
        env = {
            "TREZOR_PROFILE_DIR": str(self.profile_dir),
            "TREZOR_PROFILE": str(self.profile_dir),
            "TREZOR_UDP_PORT": str(self.port),
            "SDL_VIDEODRIVER": "dummy",
            "TREZOR_DISABLE_FADE": "1",
            "TREZOR_DISABLE_ANIMATION": "1",
        }
        return [
            "env",
            "-C",
            str(workdir),
            *(f"{key}={value}" for key, value in env.items()),
            str(self.binary),
            "-O0",
            "-X",
            "heapsize=20M",
            "-m",
            "main",
            *self.extra_args,
        ]

    def prepare(self, timeout: float) -> None:
        self._load_seed()
        assert self.proc is not None
        # `env` execs the emulator, so the child's pid is the emulator's.
        check_loopback(self.proc.pid, {self.port, self.port + 1})

    def _load_seed(self) -> None:
        """Load the mnemonic as trezor-firmware's tests do (debuglink.load_device)."""
        context = TrezorTestContext(UdpTransport(f"127.0.0.1:{self.port}"))
        try:
            if context.features.initialized:
                # A profile directory reused from an earlier run: start from a clean device.
                context.wipe_device()
            trezor_load_device(
                context.get_seedless_session(),
                self.mnemonic,
                pin=None,
                passphrase_protection=False,
                label="signerd",
            )
            self.firmware_model, self.firmware_version = context.model, context.version
        finally:
            context.debug.close()
            context.transport.close()

    def review_on_screen(self, link: DebugLink) -> LayoutContent | None:
        layout = link.read_layout(wait=False)
        waiting = layout.main_component() not in (HOME_COMPONENT, "no main component")
        return layout if waiting else None

    def press_yes(self, timeout: float = 60.0) -> None:
        """Confirm the whole flow, opening every "Show full ..." so that every field is shown.

        Follows InputFlowEIP712ShowMore: open each "Show full domain/message/struct/array",
        page through long screens, confirm each field, then "Really sign EIP-712 typed data?".
        """
        self.wait_for_review(timeout)
        self.seen = []

        def step(link: DebugLink) -> bool:
            """One press on the screen now; True once the home screen is back."""
            layout = link.read_layout()
            if layout.main_component() == HOME_COMPONENT:
                return True
            self.seen.append(layout)
            if SHOW_MORE_TEXT in layout.json_str.lower():
                _open_show_more(link, link.layout_type)
            elif layout.active_page() < layout.page_count() - 1:
                if link.layout_type is LayoutType.Caesar:
                    link.press_right()
                else:
                    link.swipe_up()
            else:
                link.press_yes()
            return False

        with self.debuglink() as link:
            # read_layout() waits for the screen to change, so no pause between presses.
            wait_until(lambda: step(link), timeout, interval=0, what="the flow to finish")

    def shows(self, text: str, *, ignore_case: bool = False) -> bool:
        """Whether `text` was on the screens, also when the firmware wrapped it: its layouts
        break a value anywhere, dropping the space it broke at ("... 10:27" / "UTC")."""
        if super().shows(text, ignore_case=ignore_case):
            return True
        screen, wanted = "".join(self.screen_text().split()), "".join(text.split())
        return wanted.lower() in screen.lower() if ignore_case else wanted in screen

    def screen_text(self) -> str:
        """The screens ``press_yes`` went through in the last flow it confirmed, then the
        screen now: the firmware keeps no history of past screens, so the walker does."""
        with self.debuglink() as link:
            now = link.read_layout(wait=False)
        return "\n\n".join(_layout_text(layout) for layout in [*self.seen, now])


def _layout_text(layout: LayoutContent) -> str:
    """A screen as text: its title, then its content."""
    return "\n".join(filter(None, [layout.title(), layout.screen_content()]))


def _sim(layout: LayoutContent) -> dict[str, Any]:
    """The simulator's own status block in its layout JSON: index, awaiting_input, busy,
    flow, kind."""
    sim = layout.top_level_value("sim")
    return sim if isinstance(sim, dict) else {}


def _open_show_more(link: DebugLink, layout_type: LayoutType) -> None:
    """Choose "Show full ..." the way trezor-firmware's InputFlowEIP712ShowMore does."""
    if layout_type is LayoutType.Caesar:
        link.press_right()
    elif layout_type is LayoutType.Eckhart:
        link.click(link.screen_buttons.menu())
        link.button_actions.navigate_to_menu_item(0)
    else:
        link.click(TREZOR_SHOW_MORE_CLICK)
