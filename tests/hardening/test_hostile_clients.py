"""Hostile and careless clients: slow drips, stalls, crowds, and clients that vanish mid-request.

None of them may keep the daemon from answering everyone else. Latencies are logged (run
with ``-o log_cli=true --log-cli-level=INFO`` to see them); the only bound asserted is a
generous one, so the tests do not depend on the machine's load.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from signerd.client import Client
from signerd.launch import DaemonProcess, wait_until
from tests.hardening.support import (
    RawConnection,
    daemon_pid,
    served_connections,
)
from tests.support import STATE_TIMEOUT, grant_params

LOG = logging.getLogger(__name__)

ANSWER_BOUND = 5.0  # seconds: "promptly", with plenty of room for a loaded 2-core machine


def status_line(request_id: str, padding: int = 0) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "signerd_status"}
    return json.dumps(message).encode() + b" " * padding + b"\n"


def test_slow_drip_and_stalled_clients_do_not_stall_others(
    rejecting_daemon: DaemonProcess,
) -> None:
    drip_done = threading.Event()

    def drip(n: int) -> str:
        """One byte every 4 ms: a 400-byte request takes about 1.6 s to arrive."""
        line = status_line(f"drip-{n}", padding=340)
        with RawConnection(rejecting_daemon.socket_path) as conn:
            for byte in line:
                conn.send(bytes([byte]))
                time.sleep(0.004)
            reply = conn.read_reply()
        assert reply is not None and "result" in reply, reply
        return str(reply["id"])

    with ThreadPoolExecutor(4) as pool, RawConnection(rejecting_daemon.socket_path) as staller:
        # Half a line, then nothing until every other client has been served.
        stalled = status_line("stalled")
        staller.send(stalled[: len(stalled) // 2])
        drippers = [pool.submit(drip, n) for n in range(3)]
        pool.submit(lambda: [d.result() for d in drippers]).add_done_callback(
            lambda _: drip_done.set()
        )
        latencies: list[float] = []
        while not drip_done.is_set():
            started = time.monotonic()
            with Client(rejecting_daemon.socket_path, timeout=ANSWER_BOUND) as client:
                assert client.status()["version"]
            latencies.append(time.monotonic() - started)
            time.sleep(0.01)
        assert sorted(d.result() for d in drippers) == ["drip-0", "drip-1", "drip-2"]
        # The stalled client's half line was kept: the rest of it completes the request.
        staller.send(stalled[len(stalled) // 2 :])
        reply = staller.read_reply()
        assert reply is not None and reply["id"] == "stalled" and "result" in reply
    assert len(latencies) >= 10
    assert max(latencies) < ANSWER_BOUND
    LOG.info(
        "status while dripping: %d calls, median %.1f ms, max %.1f ms",
        len(latencies),
        1000 * sorted(latencies)[len(latencies) // 2],
        1000 * max(latencies),
    )


async def _status_calls(path: str, n: int, calls: int) -> list[str]:
    reader, writer = await asyncio.open_unix_connection(path)
    answered: list[str] = []
    try:
        for call in range(calls):
            writer.write(status_line(f"{n}-{call}"))
            await writer.drain()
            reply = json.loads(await reader.readline())
            assert "result" in reply, reply
            answered.append(reply["id"])
    finally:
        writer.close()
    return answered


async def _vanish_after(path: str, data: bytes) -> None:
    _, writer = await asyncio.open_unix_connection(path)
    writer.write(data)
    await writer.drain()
    writer.close()


async def _crowd(path: str) -> tuple[list[list[str]], float]:
    half = status_line("half")[:20]
    grant = json.dumps(
        {"jsonrpc": "2.0", "id": 9, "method": "signerd_requestGrant", "params": grant_params()}
    ).encode()
    started = time.monotonic()
    results = await asyncio.gather(
        *(_status_calls(path, n, 3) for n in range(200)),
        *(_vanish_after(path, half) for _ in range(50)),
        *(_vanish_after(path, grant + b"\n") for _ in range(20)),
        *(_vanish_after(path, grant[:50]) for _ in range(10)),
    )
    elapsed = time.monotonic() - started
    return [r for r in results if r is not None], elapsed


def test_crowd_of_connections_and_clients_that_vanish(rejecting_daemon: DaemonProcess) -> None:
    pid = daemon_pid(rejecting_daemon)
    path = rejecting_daemon.socket_path
    with Client(path) as client:
        assert client.status()["pending"] == 0
    answered, elapsed = asyncio.run(asyncio.wait_for(_crowd(str(path)), 60))
    assert answered == [[f"{n}-{call}" for call in range(3)] for n in range(200)]
    LOG.info("200 connections x 3 status calls + 80 vanishing clients: %.2f s", elapsed)
    # Every vanished request is dropped (the grant requests cancelled), every socket closed.
    with Client(path) as client:
        wait_until(
            lambda: client.status()["pending"] == 0,
            STATE_TIMEOUT,
            what="the vanished grant requests to go",
        )
        wait_until(
            lambda: served_connections(pid, path) == 1,
            STATE_TIMEOUT,
            what="the other connections to close",
        )
        assert client.status()["version"]
    assert rejecting_daemon.proc is not None and rejecting_daemon.proc.poll() is None
