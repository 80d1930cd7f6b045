"""The grant flow through the daemon: duplicates, cancels, queue waits and shutdown each end
with their own code, and the audit log records exactly one outcome per request."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.process import EmulatorProcess
from signerd.client import Client
from signerd.errors import ErrorCode, GrantExists, QueueTimeout, SignerdError, TooManyConnections
from signerd.launch import DaemonProcess, wait_until
from tests.support import STATE_TIMEOUT, audit_events, grant_params, pending

OUTCOMES = {
    "approved",
    "rejected",
    "timed_out",
    "queue_timeout",
    "cancelled",
    "policy_refused",
    "duplicate",
    "invalid",
    "device_error",
    "failed",
}


def wait_for(condition: Callable[[], bool]) -> None:
    wait_until(condition, STATE_TIMEOUT)


def outcomes_per_request(data_dir: Path) -> list[list[str]]:
    """The audit log cut into requests: each starts at request_received, ends at an outcome."""
    requests: list[list[str]] = []
    for event in audit_events(data_dir):
        if event == "request_received":
            requests.append([])
        if event != "revoked":
            requests[-1].append(event)
    return requests


def assert_one_outcome_each(data_dir: Path) -> list[list[str]]:
    requests = outcomes_per_request(data_dir)
    for events in requests:
        assert events[0] == "request_received", events
        assert [e for e in events if e in OUTCOMES] == [events[-1]], events
    return requests


def device_account(daemon: DaemonProcess) -> str | None:
    with Client(daemon.socket_path) as client:
        account: str | None = client.status()["account"]
        return account


def dismiss_stale_review(device: EmulatorProcess) -> None:
    if device.family == "ledger":  # a Ledger review cannot be cancelled by the host
        device.press_no()


class RawClient:
    """Several requests in flight on one connection (the Client answers one at a time)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, request_id: int, method: str, params: dict[str, Any]) -> None:
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def replies(self, count: int) -> dict[int, dict[str, Any]]:
        """The next ``count`` replies (notifications skipped), by id."""
        found: dict[int, dict[str, Any]] = {}
        while len(found) < count:
            reply = json.loads(self.file.readline())
            if "id" in reply:
                found[reply["id"]] = reply
        return found

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_the_same_request_twice_is_refused_before_the_device(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    now = int(time.time())
    params = grant_params(nonce=42, validAfter=now, validUntil=now + 3600)
    params.pop("validFor")
    with ThreadPoolExecutor(1) as pool, Client(daemon.socket_path) as client:
        first = pool.submit(lambda: client.request_grant(**params))
        wait_for(lambda: pending(daemon) == 1)
        device.press_yes()
        grant = first.result(timeout=30)["grant"]
    with Client(daemon.socket_path, timeout=10) as client, pytest.raises(GrantExists) as caught:
        client.request_grant(**params)  # never waits for the person: refused at once
    assert caught.value.code == ErrorCode.GRANT_EXISTS
    assert grant["id"] in str(caught.value)
    requests = assert_one_outcome_each(daemon.data_dir)
    assert requests == [
        ["request_received", "shown_on_device", "approved"],
        ["request_received", "duplicate"],
    ]


def test_a_pending_request_can_be_cancelled_by_its_client(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    raw = RawClient(daemon.socket_path)
    try:
        raw.send(1, "signerd_requestGrant", grant_params())
        device.wait_for_review()
        raw.send(2, "signerd_cancelRequest", {"id": 1})
        replies = raw.replies(2)
        assert replies[2]["result"] == {"cancelled": 1}
        assert replies[1]["error"]["code"] == ErrorCode.CANCELLED
        raw.send(3, "signerd_cancelRequest", {"id": 1})
        assert raw.replies(1)[3]["error"]["code"] == ErrorCode.INVALID_PARAMS
    finally:
        raw.close()
    dismiss_stale_review(device)
    wait_for(lambda: pending(daemon) == 0)
    assert assert_one_outcome_each(daemon.data_dir)[-1][-1] == "cancelled"


def test_a_long_queue_wait_is_a_queue_timeout(device: EmulatorProcess, tmp_path: Path) -> None:
    config = "[daemon]\napproval_timeout = 30\nqueue_timeout = 1\n"
    with (
        DaemonProcess(device.path, tmp_path, config=config) as daemon,
        ThreadPoolExecutor(1) as pool,
    ):

        def first() -> dict[str, Any]:
            with Client(daemon.socket_path) as client:
                return client.request_grant(**grant_params(agent="first"))

        # With a 1 s queue limit, even the daemon's start-up questions to the device could
        # make the first request wait too long: start once the device has answered them.
        wait_for(lambda: device_account(daemon) is not None)
        waiting = pool.submit(first)
        wait_for(lambda: pending(daemon) == 1)
        with Client(daemon.socket_path) as client, pytest.raises(QueueTimeout):
            client.request_grant(**grant_params(agent="second"))
        device.press_no()
        with pytest.raises(SignerdError) as caught:
            waiting.result(timeout=30)
        assert caught.value.code == ErrorCode.REJECTED_ON_DEVICE
        ends = [events[-1] for events in assert_one_outcome_each(daemon.data_dir)]
    assert sorted(ends) == ["queue_timeout", "rejected"]


def test_stopping_the_daemon_answers_pending_requests_cancelled(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(1) as pool, Client(daemon.socket_path) as client:
        future = pool.submit(lambda: client.request_grant(**grant_params()))
        device.wait_for_review()
        daemon.stop()
        with pytest.raises(SignerdError) as caught:
            future.result(timeout=30)
    assert caught.value.code == ErrorCode.CANCELLED
    assert "shutting down" in str(caught.value)
    dismiss_stale_review(device)
    assert assert_one_outcome_each(daemon.data_dir)[-1][-1] == "cancelled"


def test_the_connection_cap_has_its_own_code(device: EmulatorProcess, tmp_path: Path) -> None:
    with DaemonProcess(device.path, tmp_path, config="[daemon]\nmax_connections = 2\n") as daemon:
        held: list[Client] = []

        def hold_one() -> bool:
            # The readiness probe's connection may not be closed on the daemon's side yet.
            client = Client(daemon.socket_path)
            try:
                client.status()
            except TooManyConnections:
                client.close()
                return False
            held.append(client)
            return True

        try:
            for _ in range(2):
                wait_for(hold_one)
            with Client(daemon.socket_path) as third, pytest.raises(TooManyConnections):
                third.status()
        finally:
            for client in held:
                client.close()
