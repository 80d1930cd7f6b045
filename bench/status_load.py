"""``signerd_status`` under load: latency with 1, 10 and 100 clients, and throughput.

The daemon runs as its own process (DaemonProcess); the load comes from bench/loadgen.py in
another process, on persistent connections. Rows:
- closed loop, 1 / 10 / 100 clients, one request in flight each: latency as each client
  sees it and the rate they reach together (at 100 clients the latency is mostly queueing:
  Little's law gives mean latency = 100 / rate);
- 100 clients sending 10,000 requests/s in all (open loop, the throughput target as the
  offered load): the latency target is checked here;
- 100 clients pipelining 8 requests each: the most the daemon answers per second, the
  throughput target.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.report import Row, percentile
from bench.samples import idle_daemon
from signerd.launch import DaemonProcess

GROUP = "2 signerd_status"
TARGET_RATE = 10_000.0


def _load(daemon: DaemonProcess, duration: float, *args: str) -> dict[str, Any]:
    assert daemon.proc is not None
    return loadgen.run_against(str(daemon.socket_path), daemon.proc.pid, duration, *args)


def run(duration: float = 3.0) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        with idle_daemon(workdir) as daemon:
            for clients in (1, 10, 100):
                result = _load(daemon, duration, "--clients", str(clients))
                latencies = result["latencies_ms"]
                name = f"{clients} client{'s' if clients > 1 else ''} closed loop"
                rows += [
                    Row(GROUP, f"{name}, p50", percentile(latencies, 50), "ms"),
                    Row(GROUP, f"{name}, p99", percentile(latencies, 99), "ms"),
                    Row(GROUP, f"{name}, rate", result["rate"], "req/s"),
                ]
            result = _load(
                daemon,
                duration,
                *("--clients", "100", "--mode", "paced", "--rate", str(TARGET_RATE)),
            )
            latencies = result["latencies_ms"]
            note = f"open loop, {TARGET_RATE:,.0f} req/s offered"
            rows += [
                Row(GROUP, "100 clients paced, p50", percentile(latencies, 50), "ms", note=note),
                Row(GROUP, "100 clients paced, p99", percentile(latencies, 99), "ms", ("<", 2.0)),
            ]
            result = _load(
                daemon,
                duration,
                *("--clients", "100", "--mode", "pipelined", "--depth", "8"),
            )
            note = (
                f"daemon CPU {result['server_cpu']:.0%}, "
                f"load generator CPU {result['generator_cpu']:.0%}"
            )
            rows.append(
                Row(
                    GROUP,
                    "100 clients pipelined x8, rate",
                    result["rate"],
                    "req/s",
                    (">=", TARGET_RATE),
                    note,
                )
            )
    return rows
