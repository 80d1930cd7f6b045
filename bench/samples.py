"""Grant requests and signed grants like the ones agents ask for, made without a device.

Signed with the simulators' master key (the default test mnemonic) through eth-account, so a
sample verifies exactly like a grant the simulated Trezor signed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.grants import (
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
)
from signerd.launch import DaemonProcess, wait_until

USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
TARGET = "0x1111111254EEB25477B68fb85Ed929f73A960582"


def random_address() -> str:
    return str(to_checksum_address(os.urandom(20)))


def request_params(session_key: str | None = None) -> dict[str, Any]:
    """A typical request: one token allowance per day, one target contract, one hour."""
    return {
        "agent": "bench-agent",
        "sessionKey": session_key or random_address(),
        "chainId": 8453,
        "allowances": [
            {"token": USDC_BASE, "amount": "10000000", "period": 86400},
            {"token": "0x" + "0" * 40, "amount": "500000000000000000", "period": 0},
        ],
        "targets": [TARGET],
        "validFor": 3600,
    }


def typed_data(account: str, *, now: int | None = None) -> dict[str, Any]:
    """The EIP-712 document the daemon would build for request_params() sent by this process,
    for ``account``: the same agent line (the daemon reads the peer's /proc/PID/exe), so the
    device shows the same number of pages whichever path asks."""
    current = int(time.time()) if now is None else now
    request = parse_grant_request(request_params(), now=current)
    agent = agent_description(request.label, os.getuid(), os.getpid(), _this_executable())
    nonce = int.from_bytes(os.urandom(8), "big")
    return build_grant_typed_data(request, account=account, agent=agent, nonce=nonce)


def _this_executable() -> str:
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        return sys.executable


def master_account() -> Any:
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=DEFAULT_DERIVATION_PATH)


def signed_grants(count: int) -> list[dict[str, Any]]:
    """``count`` distinct signed grants (each its own session key and nonce)."""
    master = master_account()
    grants = []
    for _ in range(count):
        data = typed_data(master.address)
        signature = master.sign_typed_data(full_message=data).signature
        grants.append(signed_grant(data, bytes(signature), master.address))
    return grants


def wait_until_idle(client: Any, timeout: float = 20.0) -> None:
    """Wait until the daemon has connected to its device and has nothing pending, so that
    its start-up work (device handshake in the worker thread) does not disturb a measurement.
    """

    def idle() -> bool:
        status = client.status()
        return bool(status["device"]["connected"] and status["pending"] == 0)

    wait_until(idle, timeout, what="the daemon to connect to its device")


@contextmanager
def idle_daemon(workdir: Path) -> Iterator[DaemonProcess]:
    """`signerd serve` on a simulated Trezor that approves everything, in ``workdir``, once
    it has connected to the device (``wait_until_idle``); both stopped afterwards."""
    with (
        TrezorSimulatorProcess(auto="approve", log_path=workdir / "trezor-sim.log") as sim,
        DaemonProcess(sim.path, workdir) as daemon,
    ):
        with Client(daemon.socket_path) as client:
            wait_until_idle(client)
        yield daemon
