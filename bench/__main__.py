"""`make bench` / ``python -m bench``: run every benchmark, print one table, write JSON.

Each benchmark starts its own simulated Trezor and daemon processes (nothing shared, so one
benchmark's leftovers cannot slow the next) and returns rows: the figure, its target and a
pass/MISS mark. Speed is only reported here, never asserted in tests: figures depend on the
machine and on what else runs on it (the environment block of the JSON records both).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    footprint,
    grant_roundtrip,
    payments,
    status_load,
    store_latency,
    verify_throughput,
)
from bench.report import Row, render_table, write_json

LOG = logging.getLogger("bench")


def _benchmarks(quick: bool) -> dict[str, Callable[[], list[Row]]]:
    """Name -> runner, in table order; ``quick`` shrinks every sample (for a smoke run)."""
    return {
        "grant": lambda: grant_roundtrip.run(40 if quick else 300),
        "status": lambda: status_load.run(1.0 if quick else 3.0),
        "verify": lambda: verify_throughput.run(500 if quick else 4_000),
        "store": lambda: store_latency.run(5_000 if quick else 100_000, 100 if quick else 500),
        "footprint": lambda: footprint.run(2 if quick else 5),
        "payments": lambda: payments.run(1.0 if quick else 3.0),
    }


def _environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "commit": commit,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small samples: a smoke run")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="bench: %(message)s", stream=sys.stderr)
    LOG.setLevel(logging.INFO)
    benchmarks = _benchmarks(args.quick)
    unknown = set(args.only or []) - set(benchmarks)
    if unknown:
        parser.error(f"unknown benchmark {sorted(unknown)[0]!r}; choose from {list(benchmarks)}")
    environment = _environment()
    rows: list[Row] = []
    started = time.perf_counter()
    for name, run in benchmarks.items():
        if args.only and name not in args.only:
            continue
        LOG.info("running %s ...", name)
        began = time.perf_counter()
        rows += run()
        LOG.info("%s done in %.0f s", name, time.perf_counter() - began)
    environment["seconds"] = round(time.perf_counter() - started, 1)
    print(render_table(rows))
    write_json(args.json, rows, environment)
    LOG.info("figures written to %s (%.0f s in all)", args.json, environment["seconds"])


if __name__ == "__main__":
    main()
