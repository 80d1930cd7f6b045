"""The grant flow end to end: `signerd serve` over its socket, the person at every device.

Request -> policy -> device -> store, audited; queued, cancelled, timed out, restarted.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from emulator.keys import MASTER_ADDRESS
from emulator.process import EmulatorProcess
from signerd.client import Client
from signerd.errors import ErrorCode, SignerdError
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess, wait_until
from tests.support import (
    REPLY_TIMEOUT,
    STATE_TIMEOUT,
    USDC_BASE,
    audit_events,
    grant_params,
    pending,
    request_in_background,
    start_simulator,
)


def wait_for_pending(daemon: DaemonProcess, count: int) -> None:
    wait_until(lambda: pending(daemon) == count, STATE_TIMEOUT, what=f"{count} pending request(s)")


def dismiss_stale_review(device: EmulatorProcess) -> None:
    """After a cancel, a Ledger still shows the review (its app has no cancel command):
    the person dismisses it. A Trezor clears its screen on Cancel by itself."""
    if device.family == "ledger":
        device.press_no()


def test_approved_grant_verifies_and_is_shown_on_device(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool)
        wait_for_pending(daemon, 1)
        device.press_yes()
        reply = future.result(timeout=REPLY_TIMEOUT)
    grant = reply["grant"]
    assert "sessionPrivateKey" not in reply
    check = verify_grant(grant, expected_signer=MASTER_ADDRESS)
    assert check.valid, check
    message = grant["typedData"]["message"]
    assert message["account"] == MASTER_ADDRESS
    assert message["agent"].startswith('"weather-bot" via uid ')
    assert device.shows(message["summary"])
    assert device.shows(message["sessionKey"], ignore_case=True)
    with Client(daemon.socket_path) as client:
        status = client.status()
        assert status["account"] == MASTER_ADDRESS
        assert status["device"]["connected"] is True
        assert status["pending"] == 0
        stored = client.get_grant(grant["id"])
        assert stored["grant"] == grant
        assert stored["status"] == "active"
    assert audit_events(daemon.data_dir) == ["request_received", "shown_on_device", "approved"]


def test_rejected_on_device(daemon: DaemonProcess, device: EmulatorProcess) -> None:
    with ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool)
        wait_for_pending(daemon, 1)
        device.press_no()
        with pytest.raises(SignerdError) as caught:
            future.result(timeout=REPLY_TIMEOUT)
    assert caught.value.code == ErrorCode.REJECTED_ON_DEVICE
    with Client(daemon.socket_path) as client:
        assert client.list_grants()["grants"] == []
    assert audit_events(daemon.data_dir)[-1] == "rejected"


def test_generated_session_key_is_handed_over_once_and_never_stored(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    params = grant_params()
    del params["sessionKey"]
    with ThreadPoolExecutor(1) as pool:

        def call() -> dict[str, Any]:
            with Client(daemon.socket_path) as client:
                return client.request_grant(generate=True, **params)

        future = pool.submit(call)
        wait_for_pending(daemon, 1)
        device.press_yes()
        reply = future.result(timeout=REPLY_TIMEOUT)
    key = reply["sessionPrivateKey"]
    assert Account.from_key(key).address == reply["grant"]["typedData"]["message"]["sessionKey"]
    daemon.stop()
    secret = key[2:].lower()
    for path in [daemon.log_path, *daemon.data_dir.iterdir()]:
        assert secret not in path.read_bytes().hex()
        assert secret not in path.read_bytes().decode("latin-1").lower()


def test_timeout_cancels_on_device_and_frees_it(device: EmulatorProcess, tmp_path: Path) -> None:
    config = "[daemon]\napproval_timeout = 1.5\n"
    with DaemonProcess(device.path, tmp_path, config=config) as daemon:
        with Client(daemon.socket_path) as client, pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params())
        assert caught.value.code == ErrorCode.APPROVAL_TIMEOUT
        assert audit_events(daemon.data_dir)[-1] == "timed_out"
        dismiss_stale_review(device)
    # The device was cleared: the next request is shown and can be approved, at a person's
    # pace (a real Nano's grant review is some 33 screens: 1.5 s would time it out too).
    with DaemonProcess(device.path, tmp_path) as daemon, ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool, agent="second")
        device.press_yes()
        assert verify_grant(future.result(timeout=REPLY_TIMEOUT)["grant"]).valid


def test_other_clients_are_served_while_waiting_and_queue_is_fifo(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(2) as pool:
        first = request_in_background(daemon, pool, agent="first")
        wait_for_pending(daemon, 1)
        device.wait_for_review()
        second = request_in_background(daemon, pool, agent="second")
        wait_for_pending(daemon, 2)
        # While the person looks at the device, everyone else still gets answers.
        for _ in range(20):
            with Client(daemon.socket_path) as client:
                assert client.status()["pending"] == 2
                assert client.list_grants()["grants"] == []
        device.press_yes()
        first_grant = first.result(timeout=REPLY_TIMEOUT)["grant"]
        assert not second.done()
        device.press_yes()
        second_grant = second.result(timeout=REPLY_TIMEOUT)["grant"]
    assert first_grant["typedData"]["message"]["agent"].startswith('"first"')
    assert second_grant["typedData"]["message"]["agent"].startswith('"second"')


def test_client_that_disconnects_has_its_request_cancelled(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(daemon.socket_path))
    message = {"jsonrpc": "2.0", "id": 1, "method": "signerd_requestGrant"}
    message["params"] = grant_params(agent="quitter")
    sock.sendall(json.dumps(message).encode() + b"\n")
    wait_for_pending(daemon, 1)
    device.wait_for_review()
    sock.close()
    wait_for_pending(daemon, 0)
    wait_until(
        lambda: audit_events(daemon.data_dir)[-1] == "cancelled", STATE_TIMEOUT, what="cancelled"
    )
    dismiss_stale_review(device)
    with ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool, agent="stayer")
        device.press_yes()
        grant = future.result(timeout=REPLY_TIMEOUT)["grant"]
    assert verify_grant(grant).valid
    assert grant["typedData"]["message"]["agent"].startswith('"stayer"')


def test_grants_survive_restart_and_revocation(device: EmulatorProcess, tmp_path: Path) -> None:
    with DaemonProcess(device.path, tmp_path) as daemon, ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool)
        wait_for_pending(daemon, 1)
        device.press_yes()
        grant = future.result(timeout=REPLY_TIMEOUT)["grant"]
    assert not daemon.socket_path.exists(), "a clean shutdown removes the socket"
    with DaemonProcess(device.path, tmp_path) as daemon, Client(daemon.socket_path) as client:
        assert client.get_grant(grant["id"])["grant"] == grant
        assert [g["id"] for g in client.list_grants()["grants"]] == [grant["id"]]
        revoked = client.revoke_grant(grant["id"], reason="agent retired")
        assert revoked["status"] == "revoked"
        with pytest.raises(SignerdError) as caught:
            client.revoke_grant(grant["id"])
        assert caught.value.code == ErrorCode.GRANT_REVOKED
        verdict = client.verify_grant(grant)
        assert verdict["valid"] is False and verdict["reason"] == "revoked"
        with pytest.raises(SignerdError) as caught:
            client.get_grant("0x" + "ab" * 32)
        assert caught.value.code == ErrorCode.GRANT_NOT_FOUND
    assert audit_events(daemon.data_dir)[-1] == "revoked"


def test_audit_verify_detects_tampering(daemon: DaemonProcess, device: EmulatorProcess) -> None:
    with ThreadPoolExecutor(1) as pool:
        future = request_in_background(daemon, pool)
        wait_for_pending(daemon, 1)
        device.press_no()
        with pytest.raises(SignerdError):
            future.result(timeout=REPLY_TIMEOUT)
    daemon.stop()
    audit = [sys.executable, "-m", "signerd.cli", "audit", "--verify", "--data-dir"]
    ok = subprocess.run([*audit, str(daemon.data_dir)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "audit chain OK: 3 entries" in ok.stdout
    db = sqlite3.connect(daemon.data_dir / "signerd.db")
    triggers = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in triggers:
        db.execute(f"DROP TRIGGER {name}")
    db.execute("UPDATE audit SET event = 'approved' WHERE event = 'rejected'")
    db.commit()
    db.close()
    broken = subprocess.run([*audit, str(daemon.data_dir)], capture_output=True, text=True)
    assert broken.returncode == 1
    assert "BROKEN at seq 3" in broken.stderr


def test_policy_ceiling_refuses_before_the_device(device: EmulatorProcess, tmp_path: Path) -> None:
    config = f'[policy]\nmax_validity = 600\n[policy.max_allowance]\n"{USDC_BASE}" = "5000000"\n'
    with DaemonProcess(device.path, tmp_path, config=config) as daemon:
        with Client(daemon.socket_path) as client:
            for params, words in [
                (grant_params(validFor=3600), "validity"),
                (grant_params(validFor=60), "allowances.0.amount"),
            ]:
                with pytest.raises(SignerdError) as caught:
                    client.request_grant(**params)
                assert caught.value.code == ErrorCode.POLICY_REFUSED
                assert words in caught.value.message
        assert "signerd" not in device.screen_text()
    # The second refusal came within a second of the first from the same peer: counted, and
    # written as one entry with its count when its window closed or the daemon stopped.
    assert audit_events(daemon.data_dir) == ["request_received", "policy_refused", "policy_refused"]


def test_device_absent_at_start_is_picked_up_later(family: str, tmp_path: Path) -> None:
    emulator = start_simulator(family, tmp_path, auto="approve")
    path = emulator.path
    emulator.stop()
    with DaemonProcess(path, tmp_path) as daemon, Client(daemon.socket_path) as client:
        with pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params())
        assert caught.value.code == ErrorCode.DEVICE_UNAVAILABLE
        assert client.status()["device"]["connected"] is False
        emulator.start()
        try:
            reply = client.request_grant(**grant_params())
            assert verify_grant(reply["grant"], expected_signer=MASTER_ADDRESS).valid
        finally:
            emulator.stop()
