"""LedgerSigner against the simulated Ledger Ethereum app (Nano and Stax behaviours)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from emulator.keys import DEFAULT_MNEMONIC
from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.process import free_port
from signerd.devices.ledger import LedgerSigner, frame_hid, unframe_hid
from signerd.errors import (
    BlindSigningRefused,
    Cancelled,
    DeviceError,
    DeviceLocked,
    DeviceUnavailable,
    UserRejected,
)

Account.enable_unaudited_hdwallet_features()
PATH = "m/44'/60'/0'/0/0"
ACCOUNT = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=PATH)

GRANT: dict[str, Any] = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
        ],
        "Allowance": [
            {"name": "token", "type": "address"},
            {"name": "amount", "type": "uint256"},
            {"name": "period", "type": "uint64"},
        ],
        "Limits": [{"name": "maxCalls", "type": "uint32"}, {"name": "note", "type": "string"}],
        "SessionGrant": [
            {"name": "account", "type": "address"},
            {"name": "sessionKey", "type": "address"},
            {"name": "summary", "type": "string"},
            {"name": "allowances", "type": "Allowance[]"},
            {"name": "targets", "type": "address[]"},
            {"name": "limits", "type": "Limits"},
            {"name": "validUntil", "type": "uint64"},
            {"name": "nonce", "type": "uint256"},
        ],
    },
    "primaryType": "SessionGrant",
    "domain": {"name": "signerd", "version": "1", "chainId": 1},
    "message": {
        "account": ACCOUNT.address,
        "sessionKey": "0x1111111111111111111111111111111111111111",
        "summary": "Agent may spend 10 USDC per day until the grant expires",
        "allowances": [
            {
                "token": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                "amount": 10_000_000,
                "period": 86400,
            },
            {"token": "0x0000000000000000000000000000000000000000", "amount": 5, "period": 0},
        ],
        "targets": [
            "0x2222222222222222222222222222222222222222",
            "0x3333333333333333333333333333333333333333",
        ],
        "limits": {"maxCalls": 100, "note": "é" * 150},
        "validUntil": 1_900_000_000,
        "nonce": 2**200 + 7,
    },
}


def expected_typed_signature() -> bytes:
    signed = Account.sign_typed_data(ACCOUNT.key, full_message=GRANT)
    return bytes(signed.signature)


def start(
    tmp_path: Path, model: str, *args: str, auto: str | None = "approve"
) -> LedgerSimulatorProcess:
    return LedgerSimulatorProcess(
        model=model, auto=auto, extra_args=list(args), log_path=tmp_path / "sim.log"
    ).start()


@pytest.fixture
def stax(tmp_path: Path) -> Iterator[LedgerSimulatorProcess]:
    sim = start(tmp_path, "stax")
    yield sim
    sim.stop()


@pytest.fixture
def nano(tmp_path: Path) -> Iterator[LedgerSimulatorProcess]:
    sim = start(tmp_path, "nanosp")
    yield sim
    sim.stop()


def test_address(stax: LedgerSimulatorProcess) -> None:
    with LedgerSigner(stax.path) as signer:
        assert signer.get_address(PATH) == ACCOUNT.address
        info = signer.info
    assert (info.family, info.firmware, info.path) == ("ledger", "1.22.0", stax.path)


def test_stax_typed_data_signature_is_eth_accounts(stax: LedgerSimulatorProcess) -> None:
    lines: list[str] = []
    with LedgerSigner(stax.path + "?model=stax") as signer:
        assert signer.info.model == "Stax" and signer.info.shows_typed_data_fields
        signature = signer.sign_typed_data(GRANT, PATH, notify=lines.append)
    assert signature == expected_typed_signature()
    recovered = Account.recover_message(encode_typed_data(full_message=GRANT), signature=signature)
    assert recovered == ACCOUNT.address
    screen = stax.screen_text()
    assert "Review typed message" in screen
    assert "Agent may spend 10 USDC per day until the grant expires" in screen
    assert "0x3333333333333333333333333333333333333333" in screen
    assert str(2**200 + 7) in screen
    assert lines  # the person was told to review on the device


def test_nano_without_raw_messages_refuses(nano: LedgerSimulatorProcess) -> None:
    with (
        LedgerSigner(nano.path) as signer,
        pytest.raises(BlindSigningRefused, match="Raw messages"),
    ):
        signer.sign_typed_data(GRANT, PATH)
    screen = nano.screen_text()
    assert "Blind signing must\nbe enabled in\nsettings" in screen


def test_nano_with_raw_messages_shows_fields_and_signs(nano: LedgerSimulatorProcess) -> None:
    nano.set_settings(raw_messages=True)
    with LedgerSigner(nano.path) as signer:
        signature = signer.sign_typed_data(GRANT, PATH)
    assert signature == expected_typed_signature()
    screen = nano.screen_text().splitlines()
    # A Nano wraps "Review typed message" over two lines (the summary fits three).
    order = [
        screen.index("Blind signing ahead"),
        screen.index("Review typed"),
        screen.index("SessionGrant"),
        screen.index("summary"),
        screen.index("Sign message"),
    ]
    assert order == sorted(order)


def test_blind_signing_setting_without_policy_is_refused(nano: LedgerSimulatorProcess) -> None:
    nano.set_settings(blind_signing=True, raw_messages=True)
    with LedgerSigner(nano.path) as signer:
        assert not signer.info.shows_typed_data_fields
        with pytest.raises(BlindSigningRefused, match="Blind signing"):
            signer.sign_typed_data(GRANT, PATH)


def test_allowed_blind_signing_uses_hashes_and_tells_them(nano: LedgerSimulatorProcess) -> None:
    nano.set_settings(blind_signing=True)
    lines: list[str] = []
    with LedgerSigner(nano.path, allow_blind_signing=True) as signer:
        signature = signer.sign_typed_data(GRANT, PATH, notify=lines.append)
    assert signature == expected_typed_signature()
    signable = encode_typed_data(full_message=GRANT)
    told = "\n".join(lines)
    assert signable.header.hex() in told and signable.body.hex() in told
    # A hash fills more than one Nano page: "Domain hash (1/2)", "Domain hash (2/2)".
    screen = nano.screen_text().splitlines()
    assert "Domain hash (1/2)" in screen and "Message hash (2/2)" in screen
    assert nano.shows("0x" + signable.header.hex())
    assert nano.shows("0x" + signable.body.hex())


def test_personal_message_matches_eth_account(nano: LedgerSimulatorProcess) -> None:
    message = b"signerd login " + b"x" * 400
    with LedgerSigner(nano.path) as signer:
        signature = signer.sign_message(message, PATH)
    expected = Account.sign_message(encode_defunct(message), ACCOUNT.key).signature
    assert signature == bytes(expected)


def test_rejection_on_the_device(tmp_path: Path) -> None:
    sim = start(tmp_path, "stax", auto="reject")
    try:
        with LedgerSigner(sim.path) as signer, pytest.raises(UserRejected):
            signer.sign_typed_data(GRANT, PATH)
    finally:
        sim.stop()


def test_person_walks_the_review_with_buttons(tmp_path: Path) -> None:
    sim = start(tmp_path, "nanosp", "--raw-messages", auto=None)
    try:
        with LedgerSigner(sim.path) as signer:
            result: list[bytes] = []
            worker = threading.Thread(target=lambda: result.append(signer.sign_message(b"hi")))
            worker.start()
            sim.press_yes()
            worker.join(30)
            assert result and result[0] == bytes(
                Account.sign_message(encode_defunct(b"hi"), ACCOUNT.key).signature
            )
            errors: list[Exception] = []

            def sign() -> None:
                try:
                    signer.sign_typed_data(GRANT, PATH)
                except Exception as exc:
                    errors.append(exc)

            worker = threading.Thread(target=sign)
            worker.start()
            sim.press_no()
            worker.join(30)
            assert len(errors) == 1 and isinstance(errors[0], UserRejected)
    finally:
        sim.stop()


def test_locked_device(tmp_path: Path) -> None:
    sim = start(tmp_path, "nanosp", "--state", "locked")
    try:
        with LedgerSigner(sim.path) as signer, pytest.raises(DeviceLocked, match="PIN"):
            signer.get_address(PATH)
    finally:
        sim.stop()


def test_dashboard_asks_to_open_the_app(nano: LedgerSimulatorProcess) -> None:
    nano.set_state("dashboard")
    with (
        LedgerSigner(nano.path) as signer,
        pytest.raises(DeviceLocked, match="open the Ethereum app"),
    ):
        signer.sign_typed_data(GRANT, PATH)


def test_no_emulator_is_unavailable() -> None:
    signer = LedgerSigner(f"tcp:127.0.0.1:{free_port()}")  # connects lazily
    with pytest.raises(DeviceUnavailable):
        signer.get_address(PATH)


def test_connection_dropped_mid_operation(tmp_path: Path) -> None:
    sim = start(tmp_path, "stax", "--drop-after", "3")
    try:
        with LedgerSigner(sim.path) as signer, pytest.raises(DeviceUnavailable):
            signer.sign_typed_data(GRANT, PATH)
    finally:
        sim.stop()


def test_hid_framing_round_trip() -> None:
    apdu = bytes(range(256)) + b"\xe0\x02"
    reports = frame_hid(apdu, 0x0101, 0x05, 64)
    assert all(len(r) == 64 for r in reports)
    assert reports[0][:7] == bytes.fromhex("0101050000") + len(apdu).to_bytes(2, "big")
    payload = b"".join(unframe_hid(r, 0x0101, 0x05, i) for i, r in enumerate(reports))
    assert payload[2 : 2 + len(apdu)] == apdu


def test_garbage_reply_is_a_device_error(tmp_path: Path) -> None:
    sim = start(tmp_path, "stax", "--garbage")
    try:
        with LedgerSigner(sim.path) as signer, pytest.raises(DeviceError, match="malformed"):
            signer.get_address(PATH)
    finally:
        sim.stop()


def test_cancel_unblocks_a_pending_review(tmp_path: Path) -> None:
    sim = start(tmp_path, "stax", auto=None)
    try:
        with LedgerSigner(sim.path) as signer:
            errors: list[Exception] = []

            def sign() -> None:
                try:
                    signer.sign_message(b"wait for me", PATH)
                except Exception as exc:
                    errors.append(exc)

            worker = threading.Thread(target=sign)
            worker.start()
            sim.wait_for_review()
            signer.cancel()
            worker.join(30)
            assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    finally:
        sim.stop()
