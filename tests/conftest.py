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

from emulator.keys import DEFAULT_MNEMONIC
from emulator.ledger.process import LedgerSimulatorProcess
from emulator.process import DaemonProcess, EmulatorProcess
from emulator.real import ENV_SPECULOS_ELF, ENV_TREZOR_EMU, SpeculosProcess, TrezorEmulatorProcess
from emulator.trezor.process import TrezorSimulatorProcess

Account.enable_unaudited_hdwallet_features()

# CI replays the same examples every run, so a landing never hangs on a lucky draw; locally,
# hypothesis keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

MASTER_ADDRESS: str = Account.from_mnemonic(
    DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/0"
).address


# The real emulators run only where the environment points at them (emulator/README.md).
REAL_EMULATOR_ENV = {"trezor-emu": ENV_TREZOR_EMU, "speculos": ENV_SPECULOS_ELF}


def skip_unless_configured(family: str) -> None:
    """Skip, saying which variable to set, when `family` is a real emulator that is absent."""
    variable = REAL_EMULATOR_ENV.get(family)
    if variable is not None and not os.environ.get(variable):
        what = "a trezor-emu-core binary" if family == "trezor-emu" else "an Ethereum app ELF"
        pytest.skip(f"real {family} not configured: set {variable} to {what}")


def start_simulator(
    family: str, tmp_path: Path, auto: str | None = None, mnemonic: str = DEFAULT_MNEMONIC
) -> EmulatorProcess:
    log = tmp_path / f"{family}-sim.log"
    if family == "trezor":
        return TrezorSimulatorProcess(auto=auto, mnemonic=mnemonic, log_path=log).start()
    if family == "ledger":
        # A Stax shows every EIP-712 field without any app setting (Nano behaviour: own tests).
        return LedgerSimulatorProcess(
            model="stax", auto=auto, mnemonic=mnemonic, log_path=log
        ).start()
    skip_unless_configured(family)
    if auto is not None:
        pytest.skip(f"{family}: answering reviews automatically is a simulator feature")
    emulator: EmulatorProcess | None
    if family == "trezor-emu":
        emulator = TrezorEmulatorProcess.from_environment(
            tmp_path / "trezor-profile", mnemonic=mnemonic, log_path=log
        )
    elif family == "speculos":
        emulator = SpeculosProcess.from_environment(mnemonic=mnemonic, log_path=log)
    else:
        raise ValueError(f"unknown device family {family!r}")
    assert emulator is not None
    return emulator.start()


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
