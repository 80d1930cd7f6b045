"""Run a simulated (or real) device emulator as a child process, and drive its approvals.

Used by the test suite, the demo and the benchmarks: one interface for every family, so the
same test runs against a simulated Trezor, a simulated Ledger or a real emulator.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypedDict

from emulator.keys import DEFAULT_MNEMONIC


def free_port(kind: int = socket.SOCK_STREAM, count: int = 1) -> int:
    """A loopback port P such that P .. P+count-1 are all free for `kind` (TCP or UDP) right now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + count > 65535:
            continue
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


class EmulatorProcess(ABC):
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
        self.inherit_output = inherit_output
        self.mnemonic = mnemonic
        self.auto = auto
        self.extra_args = list(extra_args or [])
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    @abstractmethod
    def path(self) -> str:
        """The transport path signerd opens, e.g. "udp:127.0.0.1:21324"."""

    @abstractmethod
    def command(self) -> list[str]:
        """argv that starts the emulator."""

    @abstractmethod
    def is_ready(self) -> bool:
        """True once the emulator answers on its ports."""

    @abstractmethod
    def wait_for_review(self, timeout: float = 30.0) -> object:
        """Block until the device shows a request waiting for the person."""

    @abstractmethod
    def press_yes(self) -> None:
        """Approve what is on the screen (confirm every remaining screen of the flow)."""

    @abstractmethod
    def press_no(self) -> None:
        """Reject what is on the screen."""

    @abstractmethod
    def screen_text(self) -> str:
        """Everything the device has shown in the current/last flow, as text."""

    def start(self, timeout: float = 20.0) -> Self:
        self.proc = _spawn(self.command(), self.log_path, self.inherit_output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.family} emulator exited with {self.proc.returncode}")
            if self.is_ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.family} emulator did not become ready in {timeout}s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: the device vanishes without a goodbye (unplug, emulator crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()


def python_module(module: str, *args: str) -> list[str]:
    """argv running `python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def _spawn(argv: list[str], log_path: Path | None, inherit: bool) -> subprocess.Popen[bytes]:
    """Start a child with output to a log file, to our terminal, or nowhere."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if inherit:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)
    if log_path is None:
        out: Any = subprocess.DEVNULL
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)


class DaemonProcess:
    """`signerd serve` in a child process, on its own socket and data directory."""

    def __init__(
        self,
        device: str,
        workdir: Path,
        *,
        config: str | None = None,
        extra_args: list[str] | None = None,
        log_path: Path | None = None,
        inherit_output: bool = False,
    ) -> None:
        self.device = device
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket_path = workdir / "run" / "signerd.sock"
        self.data_dir = workdir / "data"
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = workdir / "signerd.toml"
            self.config_path.write_text(config)
        self.extra_args = list(extra_args or [])
        self.log_path = log_path if log_path is not None else workdir / "signerd.log"
        self.inherit_output = inherit_output
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        argv = python_module(
            "signerd.cli",
            "-v",
            "serve",
            "--device",
            self.device,
            "--socket",
            str(self.socket_path),
            "--data-dir",
            str(self.data_dir),
        )
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return argv + self.extra_args

    def is_ready(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        return True

    def start(self, timeout: float = 20.0) -> DaemonProcess:
        self.proc = _spawn(self.command(), self.log_path, self.inherit_output)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"signerd exited with {self.proc.returncode}: {self.log()}")
            if self.is_ready():
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"signerd did not become ready in {timeout}s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
