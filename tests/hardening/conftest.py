"""Fixtures for the hardening tests: a daemon whose device says no to everything, per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.process import DaemonProcess
from emulator.trezor.process import TrezorSimulatorProcess
from signerd.client import Client


@pytest.fixture(scope="module")
def rejecting_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """`signerd serve` (a real child process) on a simulated Trezor that rejects every review,
    so any grant request that passes validation ends quickly."""
    workdir = tmp_path_factory.mktemp("hardening")
    device = TrezorSimulatorProcess(auto="reject", log_path=workdir / "trezor-sim.log").start()
    try:
        with DaemonProcess(device.path, workdir) as daemon:
            yield daemon
    finally:
        device.stop()


@pytest.fixture(scope="module")
def bystander(rejecting_daemon: DaemonProcess) -> Iterator[Client]:
    """A well-behaved client connected for the whole module: it must always be answered."""
    with Client(rejecting_daemon.socket_path, timeout=20) as client:
        yield client
