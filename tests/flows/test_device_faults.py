"""Device faults end to end: unplugged, killed, stalled or garbling devices, on every family.

The daemon must give the waiting client a clear error, stay up, and serve again once the
device is back, without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.process import EmulatorProcess
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.errors import ErrorCode, SignerdError
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess
from tests.support import REPLY_TIMEOUT, grant_params

OTHER_MNEMONIC = " ".join(["zoo"] * 11 + ["wrong"])


@pytest.fixture(params=["trezor", "ledger"])
def make_device(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    started: list[EmulatorProcess] = []

    def make(*extra: str, auto: str | None = None) -> EmulatorProcess:
        log = tmp_path / f"sim-{len(started)}.log"
        device: EmulatorProcess
        if request.param == "trezor":
            device = TrezorSimulatorProcess(auto=auto, extra_args=list(extra), log_path=log)
        else:
            device = LedgerSimulatorProcess(
                model="stax", auto=auto, extra_args=list(extra), log_path=log
            )
        started.append(device)
        return device.start()

    yield make
    for device in started:
        device.stop()


def restart_on_same_port(device: EmulatorProcess) -> EmulatorProcess:
    device.auto = "approve"
    return device.start()


def test_device_killed_mid_approval_then_back(make_device: Any, tmp_path: Path) -> None:
    device = make_device()
    with DaemonProcess(device.path, tmp_path) as daemon, ThreadPoolExecutor(1) as pool:

        def ask() -> dict[str, Any]:
            with Client(daemon.socket_path) as client:
                return client.request_grant(**grant_params())

        waiting = pool.submit(ask)
        device.wait_for_review()
        device.kill()
        with pytest.raises(SignerdError) as caught:
            waiting.result(timeout=REPLY_TIMEOUT)
        assert caught.value.code == ErrorCode.DEVICE_UNAVAILABLE
        with Client(daemon.socket_path) as client:
            assert client.status()["device"]["connected"] is False
            restart_on_same_port(device)
            reply = client.request_grant(**grant_params(agent="after-replug"))
            assert verify_grant(reply["grant"]).valid
            assert client.status()["device"]["connected"] is True
        assert daemon.proc is not None and daemon.proc.poll() is None


def test_device_going_silent_mid_stream_is_unavailable(make_device: Any, tmp_path: Path) -> None:
    # The device answers a few messages (connect, address), then drops off the link.
    device = make_device("--drop-after", "6", auto="approve")
    with DaemonProcess(device.path, tmp_path) as daemon, Client(daemon.socket_path) as client:
        with pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params())
        assert caught.value.code in (ErrorCode.DEVICE_UNAVAILABLE, ErrorCode.APPROVAL_TIMEOUT)
        assert client.status()["version"]


def test_stalled_device_times_out_and_garbage_is_a_device_error(
    make_device: Any, tmp_path: Path
) -> None:
    stalled = make_device("--stall")
    config = "[daemon]\napproval_timeout = 2\n"
    with DaemonProcess(stalled.path, tmp_path / "a", config=config) as daemon:
        with Client(daemon.socket_path) as client, pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params())
        # The simulated Trezor stalls signing only: the person never answers. The simulated
        # Ledger answers no APDU at all, so the account is never told: the device is gone.
        expected = {"trezor": ErrorCode.APPROVAL_TIMEOUT, "ledger": ErrorCode.DEVICE_UNAVAILABLE}
        assert caught.value.code == expected[stalled.family]
    garbling = make_device("--garbage", auto="approve")
    with (
        DaemonProcess(garbling.path, tmp_path / "b") as daemon,
        Client(daemon.socket_path) as client,
    ):
        with pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params())
        assert caught.value.code in (ErrorCode.DEVICE_ERROR, ErrorCode.DEVICE_UNAVAILABLE)
        assert client.status()["version"]


def test_another_device_on_the_same_path_is_refused(make_device: Any, tmp_path: Path) -> None:
    # A reconnect finds whatever answers at the path: a device with another key (another
    # person's emulator bound to the port) must never sign in the daemon's name.
    device = make_device(auto="approve")
    with DaemonProcess(device.path, tmp_path) as daemon, Client(daemon.socket_path) as client:
        first = client.request_grant(**grant_params())
        assert verify_grant(first["grant"]).valid
        device.stop()
        device.mnemonic = OTHER_MNEMONIC
        device.start()
        codes = []
        for attempt in ("impostor", "impostor-again", "impostor-thrice"):
            with pytest.raises(SignerdError) as caught:
                client.request_grant(**grant_params(agent=attempt))
            codes.append(caught.value.code)
        # A TCP link (Ledger) first reports the restart; then every attempt is refused.
        assert codes[-2:] == [ErrorCode.DEVICE_MISMATCH] * 2
        assert codes[0] in (ErrorCode.DEVICE_MISMATCH, ErrorCode.DEVICE_UNAVAILABLE)
        assert "not the one this daemon started with" in caught.value.message
        assert client.status()["device"]["lastError"].startswith("the device at")
