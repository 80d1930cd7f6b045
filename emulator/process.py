"""The interface every device launcher has, simulated or real, and the ports they listen on.

Used by the test suite, the demo and the benchmarks: one interface for every family, so the
same test runs against a simulated Trezor, a simulated Ledger or a real emulator. The
launchers themselves are per family: emulator/trezor/launch.py, emulator/ledger/launch.py and
emulator/ledger/speculos_launch.py.
"""

from __future__ import annotations

import random
import socket
from abc import abstractmethod
from pathlib import Path
from typing import Self, TypedDict

from emulator.keys import DEFAULT_MNEMONIC
from signerd.launch import ChildProcess


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for source ports that connect() picks (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _candidate_ports(count: int) -> range:
    """Where to look for listening ports: below the ephemeral range when there is room.

    A client connecting to a loopback port nobody listens on yet can be given that same port as
    its own source port, and then TCP connects it to itself (a simultaneous open): the client
    reads its own request back and the server can no longer bind. A port connect() never hands
    out cannot meet that.
    """
    low, high = _ephemeral_range()
    if low - 10000 > count:
        return range(10000, low - count)
    return range(high + 1, 65536 - count)


def free_port(kind: int = socket.SOCK_STREAM, count: int = 1) -> int:
    """A loopback port P such that P .. P+count-1 are all free for `kind` (TCP or UDP) right now."""
    candidates = _candidate_ports(count)
    for _ in range(200):
        base = random.choice(candidates)
        holders: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, kind)
                holders.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in holders:
                s.close()
    raise RuntimeError("no free loopback port range found")


class EmulatorOptions(TypedDict, total=False):
    """What every emulator process accepts, passed through by the subclasses."""

    mnemonic: str
    auto: str | None
    extra_args: list[str] | None
    log_path: Path | None
    inherit_output: bool


class EmulatorProcess(ChildProcess):
    """A device emulator in a child process: start, stop, kill, and press its buttons."""

    family: str

    def __init__(
        self,
        *,
        mnemonic: str = DEFAULT_MNEMONIC,
        auto: str | None = None,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        super().__init__(log_path=log_path, inherit_output=inherit_output)
        self.name = f"{self.family} emulator"
        self.mnemonic = mnemonic
        # "approve" / "reject": the simulator answers every review itself (simulators only).
        self.auto = auto
        self.extra_args = list(extra_args or [])

    @property
    @abstractmethod
    def path(self) -> str:
        """The transport path signerd opens, e.g. "udp:127.0.0.1:21324"."""

    @abstractmethod
    def wait_for_review(self, timeout: float = 30.0) -> object:
        """Block until the device shows a request waiting for the person."""

    @abstractmethod
    def press_yes(self, timeout: float = 30.0) -> None:
        """Approve what is on the screen (confirm every remaining screen of the flow)."""

    @abstractmethod
    def press_no(self, timeout: float = 30.0) -> None:
        """Reject what is on the screen."""

    @abstractmethod
    def screen_text(self) -> str:
        """Everything the device has shown in the current/last flow, as text."""

    def shows(self, text: str, *, ignore_case: bool = False) -> bool:
        """Whether the device showed `text` in the current/last flow (`screen_text`)."""
        screen = self.screen_text()
        return text.lower() in screen.lower() if ignore_case else text in screen

    def restart(self) -> Self:
        self.stop()
        return self.start()
