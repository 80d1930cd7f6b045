"""Fixtures for the hardening tests: a daemon whose device says no to everything, per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signerd.client import Client
from signerd.launch import DaemonProcess
from tests.hardening.support import daemon_on_rejecting_trezor


@pytest.fixture(scope="module")
def rejecting_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    """The daemon every hardening module shares (see daemon_on_rejecting_trezor)."""
    with daemon_on_rejecting_trezor(tmp_path_factory.mktemp("hardening")) as daemon:
        yield daemon


@pytest.fixture(scope="module")
def bystander(rejecting_daemon: DaemonProcess) -> Iterator[Client]:
    """A well-behaved client connected for the whole module: it must always be answered."""
    with Client(rejecting_daemon.socket_path, timeout=20) as client:
        yield client
