"""Grant round trip through the daemon against the simulated Trezor, and the same signature
made by calling trezorlib directly on the same simulator.

The daemon figure is what an agent sees: from sending ``signerd_requestGrant`` on its socket
to holding the signed grant (validation, policy, three durable audit entries, the device
flow, the signature check and the durable grant write). The direct figure is the device flow
alone: ``ethereum.sign_typed_data`` on an open trezorlib session with typed data of the same
shape. Their ratio is the daemon's overhead. Beside it, the CPU each side spends per grant
(the daemon's threads and its client against the direct caller), which moves less with the
machine's load than the wall-clock ratio and shows where the overhead is.

Both paths use the same simulator (each on its own transport and session, as two programs
would) in alternating blocks of ten, so a drift in the machine's load during the run does
not favour either side.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from trezorlib import ethereum
from trezorlib.client import AppManifest, PassphraseSetting, get_client
from trezorlib.tools import parse_path
from trezorlib.transport import get_transport

from bench.loadgen import cpu_seconds
from bench.report import Row, percentile
from bench.samples import random_address, request_params, typed_data, wait_until_idle
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess

GROUP = "1 grant round trip"


class _DirectSigner:
    """trezorlib on its own transport and session, as an application without signerd would."""

    def __init__(self, sim: TrezorSimulatorProcess) -> None:
        self.address_n = parse_path(DEFAULT_DERIVATION_PATH)
        self.client = get_client(AppManifest(app_name="signerd-bench"), get_transport(sim.path))
        self.client.__enter__()  # keep the transport open across calls, as the daemon does
        self.session = self.client.get_session(passphrase=PassphraseSetting.AUTO)

    def sign(self, data: dict[str, Any]) -> float:
        """Seconds for one ethereum.sign_typed_data."""
        start = time.perf_counter()
        result = ethereum.sign_typed_data(self.session, self.address_n, data)
        elapsed = time.perf_counter() - start
        if len(result.signature) != 65:
            raise RuntimeError("trezorlib returned a malformed signature")
        return elapsed

    def close(self) -> None:
        self.client.__exit__(None, None, None)


def _request(client: Client, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """Seconds for one signerd_requestGrant round trip, and the signed grant."""
    start = time.perf_counter()
    reply = client.request_grant(**params)
    return time.perf_counter() - start, reply["grant"]


def run(count: int, block: int = 10) -> list[Row]:
    """``count`` grants each way, alternating blocks of ``block`` between the two paths."""
    daemon_s: list[float] = []
    direct_s: list[float] = []
    cpu = {"daemon": 0.0, "client": 0.0, "direct": 0.0}  # CPU seconds of each side, summed
    grants: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="signerd-bench-") as tmp:
        workdir = Path(tmp)
        with (
            TrezorSimulatorProcess(auto="approve", log_path=workdir / "trezor-sim.log") as sim,
            DaemonProcess(sim.path, workdir) as daemon,
            Client(daemon.socket_path) as client,
        ):
            wait_until_idle(client)
            # Warm-up, and the master address (the daemon asks the device once).
            _, first = _request(client, request_params())
            account: str = first["typedData"]["message"]["account"]
            direct = _DirectSigner(sim)
            assert daemon.proc is not None
            try:
                direct.sign(typed_data(account))
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
                        direct_s.append(direct.sign(typed_data(account)))
                    cpu["direct"] += time.process_time() - own
            finally:
                direct.close()
    # Checked after timing: every grant of the run is a valid grant of the master.
    for grant in grants:
        check = verify_grant(grant, expected_signer=account)
        if not check.valid:
            raise RuntimeError(f"the daemon returned an invalid grant: {check}")
    daemon_ms = [s * 1e3 for s in daemon_s]
    direct_ms = [s * 1e3 for s in direct_s]
    ratio = percentile(daemon_ms, 50) / percentile(direct_ms, 50)
    extra = percentile(daemon_ms, 50) - percentile(direct_ms, 50)
    note = f"n={count} each way, simulated Trezor Safe 3, auto-approve"
    return [
        Row(GROUP, "via daemon, p50", percentile(daemon_ms, 50), "ms", note=note),
        Row(GROUP, "via daemon, p99", percentile(daemon_ms, 99), "ms"),
        Row(GROUP, "trezorlib direct, p50", percentile(direct_ms, 50), "ms"),
        Row(GROUP, "trezorlib direct, p99", percentile(direct_ms, 99), "ms"),
        Row(GROUP, "daemon overhead (p50 ratio)", ratio, "x", ("<=", 1.10), f"+{extra:.2f} ms"),
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
