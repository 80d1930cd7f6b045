"""TrezorSigner against the simulated Trezor: addresses, grants, refusals and error mapping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from trezorlib import messages
from trezorlib.client import TrezorClient

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices import open_signer
from signerd.devices.trezor import TrezorSigner
from signerd.errors import (
    BlindSigningRefused,
    Cancelled,
    DeviceNotFound,
    DeviceUnavailable,
    UserRejected,
    ValidationError,
)
from signerd.grants import (
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
    verify_grant,
)
from tests.support import running_later

Account.enable_unaudited_hdwallet_features()
MASTER = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/0")
USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"


def grant_typed_data(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    data: dict[str, Any] = {
        "agent": "test-agent",
        "sessionKey": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        "chainId": 8453,
        "allowances": [
            {"token": USDC_BASE, "amount": "10000000", "period": 86400},
            {"token": "0x" + "0" * 40, "amount": "500000000000000000", "period": 0},
        ],
        "targets": ["0x1111111254EEB25477B68fb85Ed929f73A960582"],
        "validFor": 3600,
    }
    data.update(overrides)
    request = parse_grant_request(data, now=now)
    agent = '"test-agent" via uid 1000 pid 42 exe pytest'
    return build_grant_typed_data(request, account=MASTER.address, agent=agent, nonce=7)


@pytest.fixture
def auto_trezor(tmp_path: Path) -> Iterator[TrezorSimulatorProcess]:
    with TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as sim:
        yield sim


def test_address_matches_eth_account(auto_trezor: TrezorSimulatorProcess) -> None:
    with open_signer(auto_trezor.path) as signer:
        assert isinstance(signer, TrezorSigner)
        assert signer.get_address() == MASTER.address
        other = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/7")
        assert signer.get_address("m/44'/60'/0'/0/7") == other.address
        info = signer.info
        assert (info.family, info.model, info.shows_typed_data_fields) == (
            "trezor",
            "Safe 3",
            True,
        )


def test_grant_signature_is_byte_identical_to_eth_account(
    auto_trezor: TrezorSimulatorProcess,
) -> None:
    typed_data = grant_typed_data()
    prompts: list[str] = []
    with open_signer(auto_trezor.path) as signer:
        signature = signer.sign_typed_data(typed_data, notify=prompts.append)
    expected = Account.sign_typed_data(MASTER.key, full_message=typed_data).signature
    assert signature == bytes(expected)
    assert len(prompts) == 1 and "Show full message" in prompts[0]
    document = signed_grant(typed_data, signature, MASTER.address)
    assert verify_grant(document, expected_signer=MASTER.address).valid
    screen = auto_trezor.screen_text()
    for value in (typed_data["message"]["summary"], "test-agent", USDC_BASE):
        assert value in screen


def test_personal_message_matches_eth_account(auto_trezor: TrezorSimulatorProcess) -> None:
    from eth_account.messages import encode_defunct

    with open_signer(auto_trezor.path) as signer:
        signature = signer.sign_message(b"x402 payment for /weather")
    expected = Account.sign_message(encode_defunct(b"x402 payment for /weather"), MASTER.key)
    assert signature == bytes(expected.signature)


def test_rejection_is_user_rejected_and_device_stays_usable(tmp_path: Path) -> None:
    with (
        TrezorSimulatorProcess(auto="reject", log_path=tmp_path / "sim.log") as sim,
        open_signer(sim.path) as signer,
    ):
        with pytest.raises(UserRejected):
            signer.sign_typed_data(grant_typed_data())
        assert signer.get_address() == MASTER.address


def test_cancel_from_another_thread_aborts_the_review(tmp_path: Path) -> None:
    with (
        TrezorSimulatorProcess(log_path=tmp_path / "sim.log") as sim,
        open_signer(sim.path) as signer,
    ):
        # A cancel from the host is Cancelled, not a rejection by the person.
        with running_later(0.5, signer.cancel), pytest.raises(Cancelled):
            signer.sign_typed_data(grant_typed_data())
        # The device is free again: the next review can be approved.
        with running_later(0.2, sim.press_yes):
            assert len(signer.sign_typed_data(grant_typed_data())) == 65


def test_a_cancel_that_overtakes_the_button_ack_leaves_the_link_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        TrezorSimulatorProcess(log_path=tmp_path / "sim.log") as sim,
        open_signer(sim.path) as signer,
    ):
        acknowledge = TrezorClient._callback_button

        def cancel_first(client: Any, session: Any, msg: messages.ButtonRequest) -> Any:
            signer.cancel()  # the Cancel reaches the device before the ButtonAck
            return acknowledge(client, session, msg)

        monkeypatch.setattr(TrezorClient, "_callback_button", cancel_first)
        with pytest.raises(Cancelled):
            signer.sign_typed_data(grant_typed_data())
        monkeypatch.undo()
        # The device answered the late ButtonAck with Failure(UnexpectedMessage): the next
        # operations must not take it for their own answer.
        assert signer.get_address() == MASTER.address
        with running_later(0.2, sim.press_yes):
            assert len(signer.sign_typed_data(grant_typed_data())) == 65


def test_trezor_one_is_refused_unless_blind_signing_is_allowed(tmp_path: Path) -> None:
    typed_data = grant_typed_data()
    with TrezorSimulatorProcess(model="one", auto="approve", log_path=tmp_path / "sim.log") as sim:
        with open_signer(sim.path) as signer:
            assert signer.info.shows_typed_data_fields is False
            with pytest.raises(BlindSigningRefused, match="blind signing"):
                signer.sign_typed_data(typed_data)
        prompts: list[str] = []
        with open_signer(sim.path, allow_blind_signing=True) as signer:
            signature = signer.sign_typed_data(typed_data, notify=prompts.append)
    assert signature == bytes(
        Account.sign_typed_data(MASTER.key, full_message=typed_data).signature
    )
    hashes = [p for p in prompts if p.startswith("BLIND SIGNING")]
    assert len(hashes) == 1 and "domain hash 0x" in hashes[0] and "message hash 0x" in hashes[0]


def test_no_device_and_vanished_device(tmp_path: Path) -> None:
    sim = TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log")
    signer = open_signer(sim.path)  # connects lazily: nothing is asked yet
    with pytest.raises(DeviceNotFound):
        signer.get_address()
    sim.start()  # a device that appears later is picked up by the same signer
    assert signer.get_address() == MASTER.address
    sim.kill()
    with pytest.raises(DeviceUnavailable):
        signer.get_address()
    sim.start()  # an emulator restart is picked up without reopening the signer
    try:
        assert signer.get_address() == MASTER.address
    finally:
        signer.close()
        sim.stop()


def test_unknown_path_prefix() -> None:
    with pytest.raises(ValidationError, match="unknown device path"):
        open_signer("serial:/dev/ttyUSB0")
