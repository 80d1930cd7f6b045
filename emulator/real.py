"""Launchers for the real emulators: Speculos with an Ethereum app ELF, and trezor-emu-core.

Neither binary ships with the project (the app ELF and the emulator are built from
LedgerHQ/app-ethereum and trezor/trezor-firmware), so the test suite runs these launchers
only when the environment points at them (see emulator/README.md):

    SIGNERD_SPECULOS_ELF=/path/app-ethereum.elf  [SIGNERD_SPECULOS_MODEL=nanosp|nanox|stax|flex]
    [SIGNERD_SPECULOS_PYTHON=/path/python  (an interpreter with `pip install speculos`)]
    SIGNERD_TREZOR_EMU=/path/trezor-emu-core

Both keep to loopback. Speculos 0.27 hard-codes 0.0.0.0 for its APDU, REST, button and
finger servers and has no option to change it, so the launcher starts it through a small
bootstrap that rebinds wildcard binds to 127.0.0.1 before Speculos' own main() runs, and
then checks in /proc that every socket the process listens on is a loopback one (it stops
the emulator otherwise). trezor-emu-core binds its UDP ports on loopback; the same check
runs on it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from trezorlib import models
from trezorlib.debuglink import DebugLink, LayoutContent, LayoutType, TrezorTestContext
from trezorlib.debuglink import load_device as trezor_load_device
from trezorlib.transport.udp import UdpTransport

from emulator.keys import DEFAULT_MNEMONIC
from emulator.process import EmulatorProcess, free_port
from emulator.speculos import SpeculosLikeProcess
from emulator.trezor.process import DebugUdpTransport, udp_trezor_answers

log = logging.getLogger(__name__)

ENV_SPECULOS_ELF = "SIGNERD_SPECULOS_ELF"
ENV_SPECULOS_MODEL = "SIGNERD_SPECULOS_MODEL"
ENV_SPECULOS_PYTHON = "SIGNERD_SPECULOS_PYTHON"
ENV_TREZOR_EMU = "SIGNERD_TREZOR_EMU"

SPECULOS_MODELS = ("nanosp", "nanox", "stax", "flex")
TOUCH_MODELS = ("stax", "flex")

# Prepended to Speculos' entry point: a wildcard bind becomes a loopback bind. Plain source
# passed with `python -c`, so that it runs in whatever interpreter has Speculos installed.
LOOPBACK_PATCH = """\
import socket
_bind = socket.socket.bind
def _loopback_bind(self, address):
    if self.family == socket.AF_INET and address[0] in ("", "0.0.0.0"):
        address = ("127.0.0.1", *address[1:])
    elif self.family == socket.AF_INET6 and address[0] in ("", "::"):
        address = ("::1", *address[1:])
    return _bind(self, address)
socket.socket.bind = _loopback_bind
"""
SPECULOS_BOOTSTRAP = (
    LOOPBACK_PATCH
    + "import sys\nsys.argv[0] = 'speculos'\nfrom speculos.main import main\nmain()\n"
)

# The Ethereum app's texts (app-ethereum src/nbgl/ui_sign_712.c, ui_home.c; the simulator
# reproduces them). Nano: "Sign message" ends the review; Stax/Flex: "Sign typed message?".
APPROVE_PREFIXES = ("Sign message", "Sign typed message", "Accept risk and sign", "Approve")
# The warning before raw EIP-712 fields ("Blind signing ahead"); accepted with both buttons.
WARNING_PREFIX = "Blind signing"
REJECT_TEXT = "Reject"
SETTINGS_TEXT = "Settings"
# "Raw messages" is N_storage.verbose_eip712; older app versions called it "Verbose EIP712".
RAW_MESSAGES_TEXTS = ("Raw messages", "Verbose EIP712")
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

# trezor-firmware tests/input_flows.py (InputFlowEIP712ShowMore): where "Show full ..." is.
TREZOR_SHOW_MORE_CLICK = (143, 167)  # Model T (Bolt) and Safe 5 (Delizia)
SHOW_MORE_TEXT = "show full"
HOME_COMPONENT = "Homescreen"
POLL_SECONDS = 0.05


# -- the loopback check ----------------------------------------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _proc_address(hex_address: str) -> tuple[str, int]:
    """ "0100007F:1F90" (address in host byte order per 32-bit word) -> ("127.0.0.1", 8080)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words)), int(port, 16)


def bound_addresses(pid: int) -> set[tuple[str, str, int]]:
    """(protocol, address, port) of every socket process `pid` listens on (TCP) or binds (UDP)."""
    inodes = _socket_inodes(pid)
    found: set[tuple[str, str, int]] = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            state, inode = fields[3], fields[9]
            # TCP state 0A is LISTEN; a UDP socket has no listen state, any bound one counts.
            if inode in inodes and (proto.startswith("udp") or state == "0A"):
                address, port = _proc_address(fields[1])
                found.add((proto, address, port))
    return found


def check_loopback(pid: int, expected_ports: set[int]) -> None:
    """Raise RuntimeError unless `pid` listens on loopback only, on all of `expected_ports`."""
    addresses = bound_addresses(pid)
    exposed = sorted(a for a in addresses if not ipaddress.ip_address(a[1]).is_loopback)
    if exposed:
        raise RuntimeError(f"emulator listens beyond loopback: {exposed}")
    missing = expected_ports - {port for _, _, port in addresses}
    if missing:
        raise RuntimeError(f"emulator is not listening on ports {sorted(missing)}")


# -- Speculos ------------------------------------------------------------------------------------


class SpeculosProcess(SpeculosLikeProcess):
    """The real Speculos running the Ethereum app, driven through its REST API."""

    def __init__(
        self,
        elf: Path,
        *,
        model: str = "nanosp",
        python: str | None = None,
        raw_messages: bool = True,
        mnemonic: str = DEFAULT_MNEMONIC,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        if model not in SPECULOS_MODELS:
            raise ValueError(f"Speculos model must be one of {SPECULOS_MODELS}, not {model!r}")
        super().__init__(
            mnemonic=mnemonic,
            extra_args=extra_args,
            log_path=log_path,
            inherit_output=inherit_output,
        )
        self.elf = elf
        self.model = model
        self.python = python or sys.executable
        self.raw_messages = raw_messages
        self._home: list[str] = []

    @classmethod
    def from_environment(cls, **kwargs: Any) -> Self | None:
        """A launcher for $SIGNERD_SPECULOS_ELF, or None when the variable is not set."""
        elf = os.environ.get(ENV_SPECULOS_ELF)
        if not elf:
            return None
        return cls(
            Path(elf),
            model=os.environ.get(ENV_SPECULOS_MODEL, "nanosp"),
            python=os.environ.get(ENV_SPECULOS_PYTHON) or None,
            **kwargs,
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

    def start(self, timeout: float = 60.0) -> Self:
        super().start(timeout)
        assert self.proc is not None
        try:
            check_loopback(self.proc.pid, {self.apdu_port, self.api_port})
            self._home = self._wait_for_text(timeout)
            if self.raw_messages and not self.touch:
                self.enable_raw_messages()
        except BaseException:
            self.kill()
            raise
        return self

    # -- REST API --

    def touch_at(self, x: int, y: int, hold: float = 0.1) -> None:
        """Tap (or hold for `hold` seconds) at x, y (Stax / Flex)."""
        self._rest(
            "POST", "/finger", {"action": "press-and-release", "x": x, "y": y, "delay": hold}
        )

    def _wait_for_text(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while not (lines := self.current_screen()):
            if time.monotonic() > deadline:
                raise TimeoutError("Speculos shows nothing")
            time.sleep(POLL_SECONDS)
        return lines

    def _next_screen(self, previous: list[str], timeout: float = 2.0) -> list[str]:
        """The screen after a press: wait briefly for it to differ from `previous`."""
        deadline = time.monotonic() + timeout
        lines = self.current_screen()
        while lines == previous and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            lines = self.current_screen()
        return lines

    # -- settings --

    def enable_raw_messages(self) -> None:
        """Turn on "Raw messages" with the buttons, as a person would (settings start off).

        Home -> right until "Settings", both; right until "Raw messages", both (toggle);
        right until "Back", both (ledger_app_clients.ethereum.settings walks the same menu).
        """
        self._walk_to((SETTINGS_TEXT,))
        self.press("both")
        self._walk_to(RAW_MESSAGES_TEXTS)
        self.press("both")
        self._walk_to((BACK_TEXT,))
        self.press("both")
        self._home = self._next_screen(self.current_screen())

    def _walk_to(self, texts: tuple[str, ...]) -> None:
        lines = self.current_screen()
        for _ in range(MENU_PAGES):
            if any(line in texts for line in lines):
                return
            self.press("right")
            lines = self._next_screen(lines)
        raise RuntimeError(f"no {texts[0]!r} in the app's menu (last screen: {lines})")

    # -- reviews --

    def wait_for_review(self, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.current_screen()
            if lines and lines != self._home:
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError("no review on Speculos' screen")
            time.sleep(POLL_SECONDS)

    def press_yes(self, timeout: float = 30.0) -> None:
        lines = self.wait_for_review(timeout)
        for _ in range(MAX_PAGES):
            if self.touch:
                if self._touch_step(lines):
                    return
            elif any(line.startswith(APPROVE_PREFIXES) for line in lines):
                self.press("both")
                return
            else:
                self.press("both" if _warning(lines) else "right")
            lines = self._next_screen(lines)
        raise RuntimeError("no approval page found in the review")

    def _touch_step(self, lines: list[str]) -> bool:
        """One step of a touch review; True once "hold to sign" has been held."""
        positions = TOUCH_POSITIONS[self.model]
        if any(line.startswith(APPROVE_PREFIXES) for line in lines):
            self.touch_at(*positions["confirm"], hold=HOLD_SECONDS)
            return True
        if not self._tap_text(CONTINUE_TEXT):
            self.touch_at(*positions["next"])
        return False

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

    def press_no(self, timeout: float = 30.0) -> None:
        lines = self.wait_for_review(timeout)
        if self.touch:
            positions = TOUCH_POSITIONS[self.model]
            self.touch_at(*positions["reject"])
            self._next_screen(lines)
            if not self._tap_text(YES_REJECT_TEXT):
                self.touch_at(*positions["confirm"])
            return
        for _ in range(MAX_PAGES):
            if REJECT_TEXT in lines:
                self.press("both")
                return
            self.press("both" if _warning(lines) else "right")
            lines = self._next_screen(lines)
        raise RuntimeError("no reject page found in the review")


# -- trezor-emu-core ---------------------------------------------------------------------------


class TrezorEmulatorProcess(EmulatorProcess):
    """A real trezor-emu-core (unix build of the Trezor firmware), seeded over its debug link."""

    family = "trezor"

    def __init__(
        self,
        binary: Path,
        *,
        profile_dir: Path,
        mnemonic: str = DEFAULT_MNEMONIC,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        super().__init__(
            mnemonic=mnemonic,
            extra_args=extra_args,
            log_path=log_path,
            inherit_output=inherit_output,
        )
        self.binary = binary
        self.profile_dir = profile_dir
        # Wire link PORT, debug link PORT+1, then FIDO, VCP and BLE on PORT+2..PORT+5.
        self.port = free_port(socket.SOCK_DGRAM, count=6)
        self.model: models.TrezorModel | None = None
        self.version: tuple[int, int, int] = (0, 0, 0)

    @classmethod
    def from_environment(cls, profile_dir: Path, **kwargs: Any) -> Self | None:
        """A launcher for $SIGNERD_TREZOR_EMU, or None when the variable is not set."""
        binary = os.environ.get(ENV_TREZOR_EMU)
        return cls(Path(binary), profile_dir=profile_dir, **kwargs) if binary else None

    @property
    def path(self) -> str:
        return f"udp:127.0.0.1:{self.port}"

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

    def is_ready(self) -> bool:
        return udp_trezor_answers(self.port)

    def start(self, timeout: float = 60.0) -> Self:
        super().start(timeout)
        assert self.proc is not None
        try:
            self._load_seed()
            # `env` execs the emulator, so the child's pid is the emulator's.
            check_loopback(self.proc.pid, {self.port, self.port + 1})
        except BaseException:
            self.kill()
            raise
        return self

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
            self.model, self.version = context.model, context.version
        finally:
            context.debug.close()
            context.transport.close()

    @contextlib.contextmanager
    def debuglink(self) -> Iterator[DebugLink]:
        link = DebugLink(DebugUdpTransport(f"127.0.0.1:{self.port + 1}"))
        # DebugLink learns the model from a TrezorTestContext; it picks its wait modes
        # and screen geometry from it.
        link.model, link.version = self.model, self.version
        try:
            yield link
        finally:
            link.close()

    def wait_for_review(self, timeout: float = 30.0) -> LayoutContent:
        deadline = time.monotonic() + timeout
        with self.debuglink() as link:
            while True:
                layout = link.read_layout(wait=False)
                if layout.main_component() not in (HOME_COMPONENT, "no main component"):
                    return layout
                if time.monotonic() > deadline:
                    raise TimeoutError("trezor-emu-core showed no screen to confirm")
                time.sleep(POLL_SECONDS)

    def press_yes(self, timeout: float = 60.0) -> None:
        """Confirm the whole flow, opening every "Show full ..." so that every field is shown.

        Follows InputFlowEIP712ShowMore: open each "Show full domain/message/struct/array",
        page through long screens, confirm each field, then "Really sign EIP-712 typed data?".
        """
        deadline = time.monotonic() + timeout
        self.wait_for_review(timeout)
        with self.debuglink() as link:
            layout_type = link.layout_type
            while True:
                layout = link.read_layout()
                if layout.main_component() == HOME_COMPONENT:
                    return
                if SHOW_MORE_TEXT in layout.json_str.lower():
                    _open_show_more(link, layout_type)
                elif layout.active_page() < layout.page_count() - 1:
                    if layout_type is LayoutType.Caesar:
                        link.press_right()
                    else:
                        link.swipe_up()
                else:
                    link.press_yes()
                if time.monotonic() > deadline:
                    raise TimeoutError("the trezor-emu-core flow did not finish")

    def press_no(self, timeout: float = 30.0) -> None:
        self.wait_for_review(timeout)
        with self.debuglink() as link:
            link.press_no()

    def screen_text(self) -> str:
        """The screen now (the real firmware keeps no history of past screens)."""
        with self.debuglink() as link:
            text: str = link.read_layout(wait=False).visible_screen()
            return text


def _warning(lines: list[str]) -> bool:
    return any(line.startswith(WARNING_PREFIX) for line in lines)


def _open_show_more(link: DebugLink, layout_type: LayoutType) -> None:
    """Choose "Show full ..." the way trezor-firmware's InputFlowEIP712ShowMore does."""
    if layout_type is LayoutType.Caesar:
        link.press_right()
    elif layout_type is LayoutType.Eckhart:
        link.click(link.screen_buttons.menu())
        link.button_actions.navigate_to_menu_item(0)
    else:
        link.click(TREZOR_SHOW_MORE_CLICK)
