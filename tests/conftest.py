"""Fixtures: simulated devices of every family, and the daemon in a child process.

Every device test runs once per family (the HWI way): the simulated Trezor and the simulated
Ledger, and the real emulators when the environment points at them (see emulator/README.md).
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import settings

from emulator.process import EmulatorProcess
from signerd.launch import DaemonProcess
from tests.support import skip_unless_configured, start_simulator

# Tests derive accounts from the simulators' mnemonic (Account.from_mnemonic).
Account.enable_unaudited_hdwallet_features()

# CI replays the same examples every run, so a landing never hangs on a lucky draw; locally,
# hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# How long Python may take to exit once pytest is done before the run is declared hung.
EXIT_GRACE_SECONDS = 60


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """Fail a test that leaves a non-daemon thread running.

    Python waits for every non-daemon thread before it exits: one blocked on an emulator the
    test has stopped would hang the run after its last test passed.
    """
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and not t.daemon]
    for thread in leftover:
        thread.join(timeout=5)
    running = [t.name for t in leftover if t.is_alive()]
    assert not running, f"the test left non-daemon threads running: {running}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """Bound the interpreter's exit: if it hangs, print every thread's stack and fail."""
    faulthandler.dump_traceback_later(EXIT_GRACE_SECONDS, exit=True, file=sys.__stderr__)


@pytest.fixture(params=["trezor", "ledger", "trezor-emu", "speculos"])
def family(request: pytest.FixtureRequest) -> str:
    """Each device family; the real emulators skip (visibly) unless configured."""
    name = str(request.param)
    skip_unless_configured(name)
    return name


@pytest.fixture
def device(family: str, tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A device of each family (simulated or real emulator), approvals driven by the test."""
    emulator = start_simulator(family, tmp_path)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def daemon(device: EmulatorProcess, tmp_path: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(device.path, tmp_path) as process:
        yield process
