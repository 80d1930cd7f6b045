"""Grant round trip through the daemon against the simulated Trezor, and the same signature
made by calling trezorlib directly on the same simulator.

The daemon figure is what an agent sees: from sending ``signerd_requestGrant`` on its socket
to holding the signed grant (validation, policy, three durable audit entries, the device
flow, the signature check and the durable grant write). The direct figure is the device flow
alone: ``ethereum.sign_typed_data`` on an open trezorlib session with typed data of the same
shape. Their ratio is the daemon's overhead. Beside it, the CPU each side spends per grant
(the daemon's threads and its client against the direct caller), which moves less with the
machine's load than the wall-clock ratio and shows where the overhead is.

The floors beside them are the thinnest daemons (bench/thin_daemon.py): a socket, a JSON line
and a device thread in a second process, no checks and no store; and the same with one
``fdatasync`` of what it signed before it answers, the least a daemon whose answer survives a
power loss must do (signerd's grants are on disk before the agent holds them). What they add
over the direct call is not signerd's doing (on a 2-core virtual machine: the scheduling of
the device exchange in another process, and the disk's flush); what signerd adds over the
durable one is.

The four paths use the same simulator (each on its own transport and session, as separate
programs would) in alternating blocks of ten, so a drift in the machine's load during the
run does not favour any of them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.loadgen import cpu_seconds
from bench.report import Row, percentile
from bench.samples import random_address, request_params, typed_data, wait_until_idle
from bench.thin_daemon import DirectSigner
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess, wait_until

GROUP = "1 grant round trip"


def _timed(sign: Callable[[dict[str, Any]], object], data: dict[str, Any]) -> float:
    """Seconds for one ``sign(data)``."""
    start = time.perf_counter()
    sign(data)
    return time.perf_counter() - start


class _ThinDaemon:
    """bench/thin_daemon.py in its own process (``durable``: with --durable), and a
    connection to it."""

    def __init__(self, simulator_path: str, workdir: Path, *, durable: bool = False) -> None:
        path = workdir / ("thin-durable.sock" if durable else "thin.sock")
        options = ["--durable"] if durable else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.thin_daemon", *options, simulator_path, str(path)],
            stdin=subprocess.DEVNULL,
        )
        ready = Path(f"{path}.ready")
        wait_until(lambda: ready.exists() or self.proc.poll() is not None, timeout=30)
        if not ready.exists():
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise RuntimeError("the thin daemon did not start")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.replies = self.sock.makefile("rb")

    def signature(self, data: dict[str, Any]) -> bytes:
        """One signature through the thin daemon."""
        self.sock.sendall(json.dumps({"id": 1, "params": data}).encode() + b"\n")
        signature = bytes.fromhex(json.loads(self.replies.readline())["result"][2:])
        if len(signature) != 65:
            raise RuntimeError("the thin daemon returned a malformed signature")
        return signature

    def close(self) -> None:
        self.sock.close()
        self.proc.kill()
        self.proc.wait(timeout=10)


def _request(client: Client, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Seconds for one signerd_requestGrant round trip, and the signed grant."""
    start = time.perf_counter()
    reply = client.request_grant(**params)
    return time.perf_counter() - start, reply["grant"]


def run(count: int, block: int = 10) -> list[Row]:
    """``count`` grants each way, alternating blocks of ``block`` between the four paths."""
    daemon_s: list[float] = []
    direct_s: list[float] = []
    thin_s: list[float] = []
    durable_s: list[float] = []
    cpu = {"daemon": 0.0, "client": 0.0, "direct": 0.0}  # CPU seconds of each side, summed
    grants: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        with (
            TrezorSimulatorProcess(auto="approve", log_path=workdir / "trezor-sim.log") as sim,
            DaemonProcess(sim.path, workdir) as daemon,
            Client(daemon.socket_path) as client,
            closing(_ThinDaemon(sim.path, workdir)) as thin,
            closing(_ThinDaemon(sim.path, workdir, durable=True)) as durable,
            closing(DirectSigner(sim.path, "signerd-bench")) as direct,
        ):
            wait_until_idle(client)
            # Warm-up, and the master address (the daemon asks the device once).
            _, first = _request(client, request_params())
            account: str = first["typedData"]["message"]["account"]
            assert daemon.proc is not None
            direct.signature(typed_data(account))
            thin.signature(typed_data(account))
            durable.signature(typed_data(account))
            while len(daemon_s) < count:
                own, served = time.process_time(), cpu_seconds(daemon.proc.pid)
                for _ in range(min(block, count - len(daemon_s))):
                    elapsed, grant = _request(client, request_params(random_address()))
                    daemon_s.append(elapsed)
                    grants.append(grant)
                cpu["client"] += time.process_time() - own
                cpu["daemon"] += cpu_seconds(daemon.proc.pid) - served
                own = time.process_time()
                for _ in range(min(block, count - len(direct_s))):
                    direct_s.append(_timed(direct.signature, typed_data(account)))
                cpu["direct"] += time.process_time() - own
                for _ in range(min(block, count - len(thin_s))):
                    thin_s.append(_timed(thin.signature, typed_data(account)))
                for _ in range(min(block, count - len(durable_s))):
                    durable_s.append(_timed(durable.signature, typed_data(account)))
    # Checked after timing: every grant of the run is a valid grant of the master.
    for grant in grants:
        check = verify_grant(grant, expected_signer=account)
        if not check.valid:
            raise RuntimeError(f"the daemon returned an invalid grant: {check}")
    daemon_p50 = percentile([s * 1e3 for s in daemon_s], 50)
    direct_p50 = percentile([s * 1e3 for s in direct_s], 50)
    thin_p50 = percentile([s * 1e3 for s in thin_s], 50)
    durable_p50 = percentile([s * 1e3 for s in durable_s], 50)
    note = f"n={count} each way, simulated Trezor Safe 3, auto-approve"
    return [
        Row(GROUP, "via daemon, p50", daemon_p50, "ms", note=note),
        Row(GROUP, "via daemon, p99", percentile([s * 1e3 for s in daemon_s], 99), "ms"),
        Row(GROUP, "trezorlib direct, p50", direct_p50, "ms"),
        Row(GROUP, "trezorlib direct, p99", percentile([s * 1e3 for s in direct_s], 99), "ms"),
        Row(
            GROUP,
            "thinnest daemon, p50",
            thin_p50,
            "ms",
            note="the floor: a socket, JSON and a device thread in a 2nd process (thin_daemon.py)",
        ),
        Row(
            GROUP,
            "thinnest durable daemon, p50",
            durable_p50,
            "ms",
            note="the same, and one fdatasync of what it signed before it answers (--durable)",
        ),
        Row(
            GROUP,
            "daemon overhead (p50 ratio)",
            daemon_p50 / direct_p50,
            "x",
            ("<=", 1.10),
            f"+{daemon_p50 - direct_p50:.2f} ms",
        ),
        Row(
            GROUP,
            "thinnest daemon overhead (p50 ratio)",
            thin_p50 / direct_p50,
            "x",
            note=f"+{thin_p50 - direct_p50:.2f} ms: not signerd's work",
        ),
        Row(
            GROUP,
            "thinnest durable daemon overhead (p50 ratio)",
            durable_p50 / direct_p50,
            "x",
            note=f"+{durable_p50 - direct_p50:.2f} ms: the floor of a daemon that keeps answers",
        ),
        Row(
            GROUP,
            "daemon over the thinnest durable (p50 ratio)",
            daemon_p50 / durable_p50,
            "x",
            note=f"+{daemon_p50 - durable_p50:.2f} ms: checks, policy, SQLite store and audit",
        ),
        Row(
            GROUP,
            "CPU per grant, daemon + client",
            (cpu["daemon"] + cpu["client"]) / count * 1e3,
            "ms",
            note=f"daemon {cpu['daemon'] / count * 1e3:.2f} ms (all threads), "
            f"client {cpu['client'] / count * 1e3:.2f} ms",
        ),
        Row(
            GROUP,
            "CPU per grant, trezorlib direct",
            cpu["direct"] / count * 1e3,
            "ms",
            note="the same device flow, in the calling process",
        ),
    ]
