"""Run `signerd serve` as a child process and wait until its socket answers.

A small library API for whatever embeds the daemon rather than running it under systemd:
the test suite, the benchmarks, `examples/demo.py`. It knows nothing of devices; give it a
transport path (a real device, an emulator, a simulator) and a working directory:

    with DaemonProcess("udp:127.0.0.1:21324", Path(tempfile.mkdtemp())) as daemon:
        Client(daemon.socket_path).status()

`ChildProcess` is the part any local server shares (spawn, wait until it answers, stop,
kill); `wait_until` is the one polling loop everything else waits with.
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
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

from signerd.safepath import private_directory

T = TypeVar("T")

# How much of a child's log an error message quotes: the end is where the reason is.
LOG_TAIL_CHARS = 4000


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.05,
    what: str = "the condition",
) -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy; return it.

    The predicate runs at least once, and may raise to give up early. TimeoutError once
    `timeout` seconds have passed without a truthy answer.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def python_module(module: str, *args: str) -> list[str]:
    """argv running `python -m module args...` with this interpreter."""
    return [sys.executable, "-m", module, *args]


class ChildProcess(ABC):
    """A local server in a child process: start it, wait until it answers, stop or kill it.

    Output goes to `log_path` (appended), to our terminal (`inherit_output`), or nowhere.
    """

    # What error messages call the child.
    name = "child process"
    # How long start() waits for an answer, and how often it asks is_ready() (a benchmark
    # timing the start-up asks more often).
    start_timeout = 20.0
    poll_interval = 0.05

    def __init__(self, *, log_path: Path | None = None, inherit_output: bool = False) -> None:
        self.log_path = log_path
        self.inherit_output = inherit_output
        self.proc: subprocess.Popen[bytes] | None = None

    @abstractmethod
    def command(self) -> list[str]:
        """argv that starts the child."""

    @abstractmethod
    def is_ready(self) -> bool:
        """True once the child answers."""

    def prepare(self, timeout: float) -> None:  # noqa: B027  # a hook most children skip
        """Work after the child answers and before start() returns (the child is killed if
        this raises)."""

    def start(self, timeout: float | None = None) -> Self:
        """Spawn the child and return once it answers (RuntimeError if it exits first,
        TimeoutError if it does not answer within `timeout`, default `start_timeout`)."""
        timeout = self.start_timeout if timeout is None else timeout
        self.proc = self._spawn()
        try:
            what = f"{self.name} to answer"
            wait_until(self._answers, timeout, interval=self.poll_interval, what=what)
            self.prepare(timeout)
        except TimeoutError as exc:
            self.kill()
            raise TimeoutError(f"{exc}: {self.log()}") from None
        except BaseException:
            self.kill()
            raise
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log()}")
        return self.is_ready()

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        argv = self.command()
        if self.inherit_output:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)
        with contextlib.ExitStack() as stack:
            out: int | IO[bytes] = subprocess.DEVNULL
            if self.log_path is not None:
                out = stack.enter_context(open(self.log_path, "ab"))
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env)

    def log(self) -> str:
        """The end of the child's log ("" without one)."""
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait (SIGKILL after `timeout` s); the exit code, None if not running."""
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
        """SIGKILL: the child vanishes without a goodbye (a crash, an unplugged device)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class DaemonProcess(ChildProcess):
    """`signerd serve` on DEVICE, with its socket, store and log under WORKDIR.

    WORKDIR/run/signerd.sock is the socket, WORKDIR/data the data directory, and
    WORKDIR/signerd.log the log (unless `log_path` says otherwise); `config` is the text of
    a signerd.toml written to WORKDIR. WORKDIR is created, or checked, as a private directory
    of ours (0700, not a symlink): another local user cannot swap the config or the log for
    a link of theirs (UnsafePath otherwise).
    """

    name = "signerd"
    poll_interval = 0.02

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
        private_directory(workdir)
        super().__init__(
            log_path=log_path if log_path is not None else workdir / "signerd.log",
            inherit_output=inherit_output,
        )
        self.device = device
        self.workdir = workdir
        self.socket_path = workdir / "run" / "signerd.sock"
        self.data_dir = workdir / "data"
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = workdir / "signerd.toml"
            self.config_path.write_text(config)
        self.extra_args = list(extra_args or [])

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
        """True once the socket accepts a connection."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket_path))
            except OSError:
                return False
        return True
