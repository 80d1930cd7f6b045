"""SIGKILL at random points of grant flows: no approved grant is ever lost, the audit chain holds.

The daemon is killed (no shutdown, no checkpoint) while agents are asking for grants on a
simulated Trezor that approves everything, then restarted on the same data directory, many
times. Every grant an agent received must be served by the restarted daemon, the audit chain
must verify, and every "approved" audit entry must have its grant stored.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.errors import ErrorCode, SignerdError
from signerd.grants import verify_grant
from signerd.jsonsafe import js_safe
from signerd.launch import DaemonProcess
from signerd.store import Store
from tests.support import audit_events, grant_params, signerd_cli

LOG = logging.getLogger(__name__)

ITERATIONS = 15
AGENTS = 4  # the default max_pending_per_peer: every agent keeps one request in flight


def agent_loop(
    socket_path: Path, label: str, first: threading.Event | None = None
) -> list[dict[str, Any]]:
    """Ask for grants back to back until the daemon dies; the grants received (``first`` is
    set when the first one arrives)."""
    received: list[dict[str, Any]] = []
    try:
        with Client(socket_path, timeout=20) as client:
            while True:
                try:
                    received.append(client.request_grant(**grant_params(agent=label))["grant"])
                    if first is not None:
                        first.set()
                except SignerdError as exc:
                    assert exc.code == ErrorCode.TOO_MANY_PENDING, exc
    except (OSError, ValueError):
        # OSError: the connection died with the daemon (reset, EOF, broken pipe).
        # ValueError: the reply line was cut off mid-write, so it was never received.
        pass
    return received


def check_store(data_dir: Path, received: dict[str, dict[str, Any]]) -> int:
    """Open the store as the crash left it; returns the number of grants stored."""
    with Store.open(data_dir) as store:
        report = store.verify_audit()
        assert report.ok, report
        approved: list[str] = []
        after = 0
        while entries := store.audit_entries(after_seq=after, limit=1000):
            approved += [e.grant_id for e in entries if e.event == "approved" and e.grant_id]
            after = entries[-1].seq
        for grant_id in approved:
            assert store.get_grant(grant_id) is not None, f"approved {grant_id} not stored"
        for grant_id, grant in received.items():
            stored = store.get_grant(grant_id)
            # As the agent received it: big integers as decimal strings (signerd.jsonsafe).
            assert stored is not None and js_safe(stored.document) == grant, f"lost {grant_id}"
        assert len(set(approved)) == len(approved)
        return len(approved)


def test_sigkill_during_grant_flows_loses_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("SIGNERD_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    device = TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "trezor-sim.log").start()
    received: dict[str, dict[str, Any]] = {}
    stored = 0
    try:
        for iteration in range(ITERATIONS):
            daemon = DaemonProcess(device.path, tmp_path).start()
            with Client(daemon.socket_path) as client:
                for grant_id, grant in received.items():
                    assert client.get_grant(grant_id)["grant"] == grant, (seed, iteration)
            # The first grant after a start waits for the device connection (0.5 s, more on
            # a busy machine); then ~10 ms each. The kill comes after the first grant or, in
            # one start of four, maybe while the device is still being connected.
            delay = rng.uniform(0.0, 0.8)
            first = threading.Event()
            with ThreadPoolExecutor(AGENTS) as pool:
                agents = [
                    pool.submit(agent_loop, daemon.socket_path, f"crash-{iteration}-{n}", first)
                    for n in range(AGENTS)
                ]
                if iteration % 4:
                    first.wait(30)
                threading.Event().wait(delay)
                daemon.kill()
                for future in agents:
                    for grant in future.result(timeout=30):
                        assert verify_grant(grant, expected_signer=MASTER_ADDRESS).valid
                        received[grant["id"]] = grant
            stored = check_store(daemon.data_dir, received)
            assert stored >= len(received), (seed, iteration)
    finally:
        device.stop()
    LOG.info(
        "seed %d: %d kills, %d grants received by agents, %d approved and stored",
        seed,
        ITERATIONS,
        len(received),
        stored,
    )
    assert received, "the kills came before any grant: the test exercised nothing"
    audit = signerd_cli("audit", "--verify", "--data-dir", str(daemon.data_dir))
    assert audit.returncode == 0, audit.stderr
    assert "audit chain OK" in audit.stdout
    events = audit_events(daemon.data_dir)
    assert events.count("approved") == stored
