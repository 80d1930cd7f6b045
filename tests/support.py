"""One source for what the tests share: constants, factories, devices, and the CLI.

Keys and the master address come from emulator/keys.py (what the simulators are seeded
with); everything else the tests have in common is here, not copied into each file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC, MASTER_ADDRESS
from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.ledger.speculos_launch import ENV_SPECULOS_ELF, SpeculosProcess
from emulator.process import EmulatorProcess
from emulator.trezor.launch import ENV_TREZOR_EMU, TrezorEmulatorProcess, TrezorSimulatorProcess
from signerd.client import Client
from signerd.launch import DaemonProcess, wait_until
from signerd.store import StoredGrant

# A fixed clock for everything time-dependent: 2026-05-28T20:26:40Z, as the store keeps time
# (time.time() floats), and as grants count it (whole Unix seconds).
NOW = 1_780_000_000.0
NOW_SECONDS = int(NOW)
FOREVER = 2**64 - 1  # a validUntil that never comes
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"  # USDC on Base (chain 8453)
SEPOLIA_USDC = "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"  # USDC on Sepolia
TARGET = "0x1111111254EEB25477B68fb85Ed929f73A960582"  # a contract an agent may call
TARGET_A = "0x1111111111111111111111111111111111111111"
TARGET_B = "0x2222222222222222222222222222222222222222"
SESSION = TARGET_A  # a session key where any address will do
NATIVE = "0x" + "0" * 40  # the chain's own coin in an allowance


def daily_usdc() -> dict[str, Any]:
    """An allowance of 10 USDC a day."""
    return {"token": USDC_BASE, "amount": "10000000", "period": 86400}


def some_eth() -> dict[str, Any]:
    """An allowance of 0.001 of the chain's coin, in total (a grant's summary shows it whole:
    "0.001 ETH total", where 5 wei would take 30 characters of the 99)."""
    return {"token": NATIVE, "amount": "1000000000000000", "period": 0}


# How long a test waits for the daemon to reach a state (a request pending, an audit entry),
# and for a reply that waits on a device.
STATE_TIMEOUT = 15.0
REPLY_TIMEOUT = 30.0


def grant_params(**overrides: Any) -> dict[str, Any]:
    """A valid signerd_requestGrant request for a fresh session key, with overrides."""
    params: dict[str, Any] = {
        "agent": "weather-bot",
        "sessionKey": Account.create().address,
        "chainId": 8453,
        "allowances": [daily_usdc()],
        "targets": [TARGET],
        "validFor": 3600,
    }
    params.update(overrides)
    return params


@contextlib.contextmanager
def running_later(delay: float, action: Callable[[], object]) -> Iterator[None]:
    """Run `action` on a helper thread `delay` seconds from now, while the body runs.

    Leaving the block waits for the helper and re-raises what it raised: no helper outlives
    the device it drives, so none can block on a stopped emulator and keep pytest from exiting.
    """
    errors: list[BaseException] = []

    def run() -> None:
        time.sleep(delay)
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    helper = threading.Thread(target=run, name=f"later-{getattr(action, '__name__', 'action')}")
    helper.start()
    try:
        yield
    finally:
        helper.join(timeout=60)
    assert not helper.is_alive(), f"{helper.name} still running 60 s after the block ended"
    if errors:
        raise errors[0]


def signerd_cli(
    *args: str, stdin: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`signerd ARGS...` in a child process, as a person would type it."""
    return subprocess.run(
        [sys.executable, "-m", "signerd.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def audit_events(data_dir: Path) -> list[str]:
    """The audit log's event names, oldest first (`signerd audit --json`)."""
    out = signerd_cli("audit", "--json", "--data-dir", str(data_dir), check=True).stdout
    return [json.loads(line)["event"] for line in out.splitlines()]


def make_grant(
    n: int,
    *,
    created_at: float = NOW,
    valid_after: int = 0,
    valid_until: int = FOREVER,
    session_key: str = SESSION,
    summary: str | None = None,
) -> StoredGrant:
    """Grant `n` as the store keeps it, signed by the master account (the store does not re-verify signatures); a `summary`
    gives its document the weight of a real grant's."""
    message: dict[str, Any] = {"nonce": str(2**255 + n)}
    if summary is not None:
        message["summary"] = summary
    grant_id = "0x" + hashlib.sha256(f"grant {n}".encode()).hexdigest()
    return StoredGrant(
        id=grant_id,
        account=MASTER_ADDRESS,
        session_key=session_key,
        chain_id=1,
        agent=f"agent-{n} uid 1000 /usr/bin/python3",
        valid_after=valid_after,
        valid_until=valid_until,
        nonce=2**255 + n,
        document={
            "id": grant_id,
            "typedData": {"primaryType": "SessionGrant", "message": message},
            "signature": "0x" + "ab" * 65,
            "signer": MASTER_ADDRESS,
        },
        device="trezor Safe 3 udp:127.0.0.1:21324",
        peer_uid=1000,
        created_at=created_at,
    )


def pending(daemon: DaemonProcess) -> int:
    """How many requests the daemon has waiting for the device."""
    with Client(daemon.socket_path) as client:
        return int(client.status()["pending"])


def request_in_background(
    daemon: DaemonProcess, pool: ThreadPoolExecutor, **overrides: Any
) -> Future[dict[str, Any]]:
    """A grant request (grant_params with overrides) from a thread of `pool`."""

    def call() -> dict[str, Any]:
        with Client(daemon.socket_path) as client:
            return client.request_grant(**grant_params(**overrides))

    return pool.submit(call)


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
    """A started device of `family`: "trezor", "ledger", "trezor-emu" or "speculos"."""
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


def wait_until_connected(socket_path: Path, timeout: float = STATE_TIMEOUT) -> None:
    """Wait until the daemon on ``socket_path`` has connected to its device (it connects in
    the background after it starts answering)."""

    def connected() -> bool:
        with Client(socket_path) as client:
            return bool(client.status()["device"]["connected"])

    wait_until(connected, timeout, what="the daemon to connect to its device")


def slip11_reference(mnemonic: str, path: str, key: str, value: bytes) -> bytes:
    """SLIP-11 CipherKeyValue from the mnemonic's node, written from the SLIP (encrypt, ask
    on both), independent of the simulator's implementation."""
    import hmac

    from bip32 import BIP32
    from Crypto.Cipher import AES
    from mnemonic import Mnemonic

    node_key = BIP32.from_seed(Mnemonic.to_seed(mnemonic)).get_privkey_from_path(path)
    digest = hmac.new(node_key, key.encode() + b"E1D1", hashlib.sha512).digest()
    return bytes(AES.new(digest[:32], AES.MODE_CBC, iv=digest[32:48]).encrypt(value))
