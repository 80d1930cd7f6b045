"""Daemon footprint: start-up time to a socket that accepts connections, and idle memory.

Start-up runs from spawning ``python -m signerd.cli serve`` (DaemonProcess's command line)
to the first successful connect() on its socket, polled every millisecond; the median of a
few starts is reported. Idle memory is VmRSS from /proc/PID/status once the daemon has
connected to its device, answered a status call, and sat idle for a second.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Row
from bench.samples import wait_until_idle
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.launch import DaemonProcess

GROUP = "5 footprint"


def _start(daemon: DaemonProcess) -> float:
    """Spawn the daemon and return the seconds until its socket accepts a connection."""
    daemon.poll_interval = 0.001
    started = time.perf_counter()
    daemon.start()
    return time.perf_counter() - started


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc status")


def run(starts: int = 5) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        with TrezorSimulatorProcess(auto="approve", log_path=workdir / "trezor-sim.log") as sim:
            times = []
            rss = 0.0
            for attempt in range(starts):
                daemon = DaemonProcess(sim.path, workdir)
                try:
                    times.append(_start(daemon))
                    if attempt == starts - 1:
                        with Client(daemon.socket_path) as client:
                            wait_until_idle(client)
                        time.sleep(1.0)
                        assert daemon.proc is not None
                        rss = _rss_mb(daemon.proc.pid)
                finally:
                    daemon.stop()
    note = f"median of {starts} starts (max {max(times) * 1e3:.0f} ms)"
    return [
        Row(
            GROUP,
            "start-up to socket ready",
            statistics.median(times) * 1e3,
            "ms",
            ("<", 500.0),
            note,
        ),
        Row(GROUP, "idle resident memory (VmRSS)", rss, "MB", ("<", 80.0), "device connected"),
    ]
