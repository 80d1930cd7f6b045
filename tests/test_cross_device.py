"""One grant, every device: the same typed data signed by each family is the same bytes.

The simulated Ledger (through LedgerSigner) and the simulated Trezor (through TrezorSigner)
derive from the same BIP-39 seed, so their signatures of one grant must be byte-identical,
recover to the master address, and equal eth-account's. The real emulators, when
configured, must give the same bytes again (deterministic RFC 6979 signatures).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC
from emulator.process import EmulatorProcess
from emulator.real import (
    LOOPBACK_PATCH,
    SPECULOS_BOOTSTRAP,
    SpeculosProcess,
    _proc_address,
    check_loopback,
)
from signerd.devices.base import DEFAULT_DERIVATION_PATH, Signer
from signerd.devices.ledger import LedgerSigner
from signerd.devices.trezor import TrezorSigner
from signerd.grants import (
    build_grant_typed_data,
    grant_digest,
    parse_grant_request,
    recover_signer,
    signed_grant,
    verify_grant,
)
from tests.conftest import MASTER_ADDRESS, start_simulator

# BIP-39 reference vector 2 (entropy 7f7f...): public, and not the simulators' default seed.
OTHER_MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
NOW = 1_750_000_000


def account_of(mnemonic: str) -> Any:
    return Account.from_mnemonic(mnemonic, account_path=DEFAULT_DERIVATION_PATH)


def grant_for(master: str) -> dict[str, Any]:
    """A grant as the daemon renders it: allowances, targets, summary and all."""
    request = parse_grant_request(
        {
            "agent": "weather-bot",
            "sessionKey": "0x1111111111111111111111111111111111111111",
            "chainId": 8453,
            "allowances": [
                {
                    "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "amount": "10000000",
                    "period": 86400,
                },
                {
                    "token": "0x0000000000000000000000000000000000000000",
                    "amount": "5" + "0" * 15,
                    "period": 0,
                },
            ],
            "targets": ["0x1111111254EEB25477B68fb85Ed929f73A960582"],
            "validFor": 3600,
        },
        now=NOW,
    )
    return build_grant_typed_data(
        request, account=master, agent='"weather-bot" via uid 1000 pid 42 exe python3', nonce=7
    )


def signer_for(device: EmulatorProcess) -> Signer:
    if device.family == "trezor":
        return TrezorSigner(device.path)
    return LedgerSigner(device.path)


def sign_on(device: EmulatorProcess, typed_data: dict[str, Any]) -> tuple[str, bytes]:
    """(address, signature) from the device, approving with the device's own driver."""
    with signer_for(device) as signer, ThreadPoolExecutor(1) as pool:
        address = signer.get_address()
        pending = pool.submit(signer.sign_typed_data, typed_data)
        if device.auto is None:
            device.press_yes()
        return address, pending.result(timeout=120)


@pytest.mark.parametrize(
    "mnemonic", [DEFAULT_MNEMONIC, OTHER_MNEMONIC], ids=["default-seed", "other-seed"]
)
def test_simulated_ledger_and_trezor_sign_the_same_bytes(tmp_path: Path, mnemonic: str) -> None:
    expected = account_of(mnemonic)
    assert (expected.address == MASTER_ADDRESS) == (mnemonic == DEFAULT_MNEMONIC)
    typed_data = grant_for(expected.address)

    signatures: dict[str, bytes] = {}
    for family in ("ledger", "trezor"):
        device = start_simulator(family, tmp_path, auto="approve", mnemonic=mnemonic)
        try:
            address, signatures[family] = sign_on(device, typed_data)
        finally:
            device.stop()
        assert address == expected.address

    assert signatures["ledger"] == signatures["trezor"]
    reference = bytes(Account.sign_typed_data(expected.key, full_message=typed_data).signature)
    assert signatures["ledger"] == reference
    assert recover_signer(grant_digest(typed_data), signatures["ledger"]) == expected.address
    document = signed_grant(typed_data, signatures["trezor"], expected.address)
    verification = verify_grant(document, expected_signer=expected.address, now=NOW + 60)
    assert verification.valid, verification


def test_every_family_signs_the_grant_like_eth_account(device: EmulatorProcess) -> None:
    """Approved on the device by its driver: simulators, and real emulators when configured."""
    typed_data = grant_for(MASTER_ADDRESS)
    address, signature = sign_on(device, typed_data)
    assert address == MASTER_ADDRESS
    reference = Account.sign_typed_data(account_of(DEFAULT_MNEMONIC).key, full_message=typed_data)
    assert signature == bytes(reference.signature)
    assert recover_signer(grant_digest(typed_data), signature) == MASTER_ADDRESS


def test_loopback_check_accepts_a_simulator_and_names_its_ports(tmp_path: Path) -> None:
    device = start_simulator("ledger", tmp_path)
    try:
        assert device.proc is not None
        port = int(device.path.rsplit(":", 1)[1])
        check_loopback(device.proc.pid, {port, port + 1})
        with pytest.raises(RuntimeError, match="not listening on ports"):
            check_loopback(device.proc.pid, {port, port + 1, 1})
    finally:
        device.stop()


def test_speculos_bootstrap_keeps_wildcard_binds_on_loopback() -> None:
    """The patch run before Speculos' main(): its hard-coded 0.0.0.0 binds become 127.0.0.1."""
    probe = (
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.bind(('0.0.0.0', 0))\n"
        "s.listen()\n"
        "print(s.getsockname()[0], s.getsockname()[1], flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", LOOPBACK_PATCH + probe],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        host, port = child.stdout.readline().split()
        try:
            assert host == "127.0.0.1"
            check_loopback(child.pid, {int(port)})
        finally:
            child.stdin.close()


def test_proc_net_addresses_are_decoded() -> None:
    assert _proc_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert _proc_address("00000000:270F") == ("0.0.0.0", 9999)
    assert _proc_address("00000000000000000000000001000000:1388") == ("::1", 5000)


def test_speculos_command_uses_its_real_options(tmp_path: Path) -> None:
    """The argv matches `speculos --help` of Speculos 0.27 (options checked by hand there)."""
    launcher = SpeculosProcess(tmp_path / "app.elf", model="flex", python="/opt/speculos/python")
    argv = launcher.command()
    assert argv[:3] == ["/opt/speculos/python", "-c", SPECULOS_BOOTSTRAP]
    assert argv[3:] == [
        str(tmp_path / "app.elf"),
        "--model",
        "flex",
        "--seed",
        DEFAULT_MNEMONIC,
        "--display",
        "headless",
        "--apdu-port",
        str(launcher.apdu_port),
        "--api-port",
        str(launcher.api_port),
    ]
    assert launcher.path == f"tcp:127.0.0.1:{launcher.apdu_port}"
