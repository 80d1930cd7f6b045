"""Bridge in process: a daemon lost mid-call is DAEMON_UNAVAILABLE, a call past its deadline
a TIMEOUT, each a tool error with structure, never an unstructured failure."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from signerd.mcp.bridge import Bridge


class _Connection:
    """What the bridge does with a client besides handing it to the work."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def interrupt(self) -> None:
        pass

    def close(self) -> None:
        self.closed.set()


@pytest.fixture
def bridge(monkeypatch: pytest.MonkeyPatch) -> Bridge:
    bridge = Bridge(None)
    monkeypatch.setattr(bridge, "_connect", _Connection)
    return bridge


def _error(result: Any) -> dict[str, Any]:
    assert result.is_error
    error: dict[str, Any] = result.structured_content["error"]
    return error


def test_a_daemon_lost_mid_call_is_daemon_unavailable(bridge: Bridge) -> None:
    def work(client: Any) -> Any:
        raise ConnectionResetError(104, "Connection reset by peer")

    error = _error(anyio.run(bridge.run, work))
    assert (error["code"], error["name"]) == (-32044, "DAEMON_UNAVAILABLE")


def test_a_call_past_its_deadline_is_a_timeout_on_its_own_threads(bridge: Bridge) -> None:
    threads: list[str] = []

    def slow(client: Any) -> Any:
        threads.append(threading.current_thread().name)
        time.sleep(2)

    async def call() -> tuple[Any, float]:
        limiter = anyio.CapacityLimiter(1)
        start = time.monotonic()
        result = await bridge.run(slow, limiter=limiter, deadline=0.2)
        assert limiter.borrowed_tokens <= 1
        return result, time.monotonic() - start

    result, elapsed = anyio.run(call)
    error = _error(result)
    assert (error["code"], error["name"]) == (None, "TIMEOUT")
    assert elapsed < 1.5  # the answer did not wait for the work
    assert threads  # the work did start, on a worker thread


def test_a_socket_timeout_without_a_deadline_is_daemon_unavailable(bridge: Bridge) -> None:
    def work(client: Any) -> Any:
        raise TimeoutError("timed out")

    error = _error(anyio.run(bridge.run, work))
    assert (error["code"], error["name"]) == (-32044, "DAEMON_UNAVAILABLE")
