"""Fixtures: simulated devices of every family, and the daemon in a child process.

Every device test runs once per family (the HWI way): the simulated Trezor and the simulated
Ledger, and the real emulators when the environment points at them (see emulator/README.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC
from emulator.ledger.process import LedgerSimulatorProcess
from emulator.process import DaemonProcess, EmulatorProcess
from emulator.trezor.process import TrezorSimulatorProcess

Account.enable_unaudited_hdwallet_features()

MASTER_ADDRESS: str = Account.from_mnemonic(
    DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/0"
).address


def start_simulator(family: str, tmp_path: Path, auto: str | None = None) -> EmulatorProcess:
    log = tmp_path / f"{family}-sim.log"
    if family == "trezor":
        return TrezorSimulatorProcess(auto=auto, log_path=log).start()
    # A Stax shows every EIP-712 field without any app setting (Nano behaviour: own tests).
    return LedgerSimulatorProcess(model="stax", auto=auto, log_path=log).start()


@pytest.fixture(params=["trezor", "ledger"])
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def device(family: str, tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A simulated device of each family, approvals driven by the test."""
    emulator = start_simulator(family, tmp_path)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def daemon(device: EmulatorProcess, tmp_path: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(device.path, tmp_path) as process:
        yield process
