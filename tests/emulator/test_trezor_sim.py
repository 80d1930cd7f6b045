"""The simulated Trezor against the installed trezorlib, checked against eth-account."""

from __future__ import annotations

import copy
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from trezorlib import ethereum, exceptions, messages
from trezorlib.client import AppManifest, Session, get_client
from trezorlib.debuglink import DebugLink
from trezorlib.mapping import DEFAULT_MAPPING
from trezorlib.protocol_v1 import read, write
from trezorlib.tools import parse_path
from trezorlib.transport import Timeout
from trezorlib.transport.udp import UdpTransport

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorSimulatorProcess
from emulator.trezor.wire import encode
from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.devices.liveness import udp_port_bound
from signerd.launch import wait_until
from tests.support import NATIVE, SESSION, STATE_TIMEOUT, TARGET_B, USDC_BASE

PATH = parse_path(DEFAULT_DERIVATION_PATH)
ACCOUNT = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=DEFAULT_DERIVATION_PATH)

# Nested structs (Scope holds an Allowance), an array of structs, an address[], uint64s,
# a bool and a bytes32: every path of the streaming hasher.
TYPED_DATA: dict[str, Any] = {
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
        "Scope": [
            {"name": "label", "type": "string"},
            {"name": "cap", "type": "Allowance"},
            {"name": "revocable", "type": "bool"},
            {"name": "salt", "type": "bytes32"},
        ],
        "SessionGrant": [
            {"name": "account", "type": "address"},
            {"name": "sessionKey", "type": "address"},
            {"name": "agent", "type": "string"},
            {"name": "allowances", "type": "Allowance[]"},
            {"name": "targets", "type": "address[]"},
            {"name": "scope", "type": "Scope"},
            {"name": "validAfter", "type": "uint64"},
            {"name": "validUntil", "type": "uint64"},
            {"name": "nonce", "type": "uint256"},
        ],
    },
    "primaryType": "SessionGrant",
    "domain": {"name": "signerd", "version": "1", "chainId": 8453},
    "message": {
        "account": ACCOUNT.address,
        "sessionKey": SESSION,
        "agent": "builder (uid 1000) /usr/bin/agent",
        "allowances": [
            {
                "token": USDC_BASE,
                "amount": 10_000_000,
                "period": 86400,
            },
            {"token": NATIVE, "amount": 5, "period": 0},
        ],
        "targets": [
            TARGET_B,
            "0x3333333333333333333333333333333333333333",
        ],
        "scope": {
            "label": "daily spend",
            "cap": {
                "token": USDC_BASE,
                "amount": 99,
                "period": 3600,
            },
            "revocable": True,
            "salt": "0x" + "ab" * 32,
        },
        "validAfter": 1_700_000_000,
        "validUntil": 1_700_086_400,
        "nonce": 7,
    },
}


def _expected_typed_signature(data: dict[str, Any]) -> bytes:
    signed = Account.sign_typed_data(ACCOUNT.key, full_message=copy.deepcopy(data))
    return bytes(signed.signature)


def _session(path: str, button_requests: list[messages.ButtonRequest] | None = None) -> Session:
    app = AppManifest(
        app_name="signerd-tests",
        button_callback=button_requests.append if button_requests is not None else None,
    )
    client = get_client(app, UdpTransport(path.removeprefix("udp:")))
    return client.get_session()


def _start(**kwargs: Any) -> Iterator[TrezorSimulatorProcess]:
    with TrezorSimulatorProcess(**kwargs) as sim:
        yield sim


@pytest.fixture(scope="module")
def approving() -> Iterator[TrezorSimulatorProcess]:
    yield from _start(auto="approve")


@pytest.fixture(scope="module")
def rejecting() -> Iterator[TrezorSimulatorProcess]:
    yield from _start(auto="reject")


@pytest.fixture(scope="module")
def manual() -> Iterator[TrezorSimulatorProcess]:
    yield from _start()


@pytest.fixture(scope="module")
def trezor_one() -> Iterator[TrezorSimulatorProcess]:
    yield from _start(model="one", auto="approve")


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run a blocking trezorlib call in the background, keeping its result or exception."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _unspaced(text: str) -> str:
    """The firmware draws addresses in groups of four; compare without the gaps."""
    return "".join(text.split())


def test_address_matches_eth_account(approving: TrezorSimulatorProcess) -> None:
    session = _session(approving.path)
    assert ethereum.get_address(session, PATH) == ACCOUNT.address


def test_features_look_like_a_safe_3(approving: TrezorSimulatorProcess) -> None:
    session = _session(approving.path)
    features = session.features
    assert (features.vendor, features.model, features.internal_model) == (
        "trezor.io",
        "Safe 3",
        "T2B1",
    )
    assert features.initialized and features.unlocked
    assert messages.Capability.Ethereum in features.capabilities
    assert not session.client.is_outdated()


def test_sign_typed_data_is_byte_identical_to_eth_account(
    approving: TrezorSimulatorProcess,
) -> None:
    button_requests: list[messages.ButtonRequest] = []
    session = _session(approving.path, button_requests)
    result = ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    assert result.address == ACCOUNT.address
    assert bytes(result.signature) == _expected_typed_signature(TYPED_DATA)
    recovered = Account.recover_message(
        encode_typed_data(full_message=copy.deepcopy(TYPED_DATA)), signature=result.signature
    )
    assert recovered == ACCOUNT.address
    names = [br.name for br in button_requests]
    assert names[0] == "confirm_address"
    assert names[-1] == "confirm_typed_data_final"


def test_screens_show_domain_and_every_field(approving: TrezorSimulatorProcess) -> None:
    session = _session(approving.path)
    ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    history = approving.screen_history()
    titles = [layout.title() for layout in history]
    assert titles[0] == "Signing address"
    assert _unspaced(history[0].screen_content()) == ACCOUNT.address.lower()
    assert titles[1] == "EIP712Domain"
    assert titles[-1] == "Confirm typed data"
    text = approving.screen_text()
    for shown in (
        "name (string):\nsignerd",
        "version (string):\n1",
        "chainId (uint256):\n8453",
        "SessionGrant\nContains 9 keys\naccount, sessionKey, agent, allowances, targets",
        f"account (address): {ACCOUNT.address}",
        "agent (string): builder (uid 1000) /usr/bin/agent",
        "Array of 2 Allowances",
        "amount (uint256): 10000000",
        "period (uint64): 86400",
        "[1] (address): 0x3333333333333333333333333333333333333333",
        "label (string): daily spend",
        "revocable (bool): true",
        "salt (bytes32): " + "ab" * 32,
        "validUntil (uint64): 1700086400",
        "nonce (uint256): 7",
        "Really sign EIP-712 typed data?",
    ):
        assert shown in text


def test_sign_message_matches_eth_account(approving: TrezorSimulatorProcess) -> None:
    session = _session(approving.path)
    result = ethereum.sign_message(session, PATH, "grant me, signerd")
    expected = Account.sign_message(encode_defunct(text="grant me, signerd"), ACCOUNT.key)
    assert bytes(result.signature) == bytes(expected.signature)
    assert "grant me, signerd" in approving.screen_text()


def test_reject_raises_cancelled(rejecting: TrezorSimulatorProcess) -> None:
    session = _session(rejecting.path)
    with pytest.raises(exceptions.Cancelled):
        ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    with pytest.raises(exceptions.Cancelled):
        ethereum.sign_message(session, PATH, "no")
    # A rejected flow leaves the device usable.
    assert ethereum.get_address(session, PATH) == ACCOUNT.address


def test_debug_link_reads_screens_and_presses(manual: TrezorSimulatorProcess) -> None:
    session = _session(manual.path)
    thread, outcome = _in_thread(
        lambda: ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    )
    first = manual.wait_for_review()
    assert first.title() == "Signing address"
    assert _unspaced(first.screen_content()) == ACCOUNT.address.lower()
    assert first.button_contents() == ["Cancel", "-", "Confirm"]
    manual.press_yes()
    thread.join(30)
    assert bytes(outcome["result"].signature) == _expected_typed_signature(TYPED_DATA)
    assert "chainId (uint256):\n8453" in manual.screen_text()


def test_debug_link_press_no_rejects(manual: TrezorSimulatorProcess) -> None:
    session = _session(manual.path)
    thread, outcome = _in_thread(lambda: ethereum.sign_message(session, PATH, "reject me"))
    manual.press_no()
    thread.join(30)
    assert isinstance(outcome.get("error"), exceptions.Cancelled)


def test_trezorlib_debuglink_decision_flow(manual: TrezorSimulatorProcess) -> None:
    """trezorlib's own DebugLink drives a confirmation: press_yes is a DebugLinkDecision."""
    session = _session(manual.path)
    thread, outcome = _in_thread(lambda: ethereum.sign_message(session, PATH, "by debuglink"))
    manual.wait_for_review()
    link = DebugLink(UdpTransport(manual.debug_path.removeprefix("udp:")))
    try:
        assert link.read_layout().title() == "Sign ETH message"
        link.press_yes()
        # The press is taken asynchronously: until it is, the first screen is still up.
        layout = wait_until(
            lambda: (shown := manual.wait_for_review()).title() != "Sign ETH message" and shown,
            STATE_TIMEOUT,
            what="the screen after the first",
        )
        assert (layout.title(), layout.text_content()) == ("Confirm message", "by debuglink")
        link.press_yes()
    finally:
        link.close()
    thread.join(30)
    expected = Account.sign_message(encode_defunct(text="by debuglink"), ACCOUNT.key)
    assert bytes(outcome["result"].signature) == bytes(expected.signature)


def test_cancel_while_waiting_for_button(manual: TrezorSimulatorProcess) -> None:
    button_requests: list[messages.ButtonRequest] = []
    session = _session(manual.path, button_requests)
    thread, outcome = _in_thread(
        lambda: ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    )
    manual.wait_for_review()
    # The screen is up from the ButtonRequest on, but the Cancel must follow the ButtonAck:
    # one sent before it ends the workflow, and the late ButtonAck then gets the firmware's
    # Failure(UnexpectedMessage), left unread for the next call. trezorlib calls back after
    # it acked.
    wait_until(lambda: button_requests, STATE_TIMEOUT, what="the ButtonAck")
    session.cancel()
    thread.join(30)
    assert isinstance(outcome.get("error"), exceptions.Cancelled)
    assert ethereum.get_address(session, PATH) == ACCOUNT.address


def test_the_terminal_says_when_the_home_screen_is_back(tmp_path: Path) -> None:
    """A person at the simulator's terminal sees a cancelled review end, as the device's
    screen would go back home, instead of its last screen waiting for a press."""
    log = tmp_path / "sim.log"
    with TrezorSimulatorProcess(log_path=log) as sim:
        session = _session(sim.path)
        thread, outcome = _in_thread(
            lambda: ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
        )
        sim.wait_for_review()
        assert "home screen" not in log.read_text()
        session.cancel()
        thread.join(30)
        assert isinstance(outcome.get("error"), exceptions.Cancelled)
        wait_until(lambda: "home screen" in log.read_text(), STATE_TIMEOUT, what="home")
        assert log.read_text().count("home screen (the host cancelled)") == 1

        thread, outcome = _in_thread(lambda: ethereum.sign_message(session, PATH, "hi"))
        sim.press_yes()
        thread.join(30)
        assert "result" in outcome
        wait_until(lambda: log.read_text().count("home screen") == 2, STATE_TIMEOUT, what="home")
        assert log.read_text().rstrip().endswith("home screen")


def test_trezor_one_refuses_typed_data_but_signs_the_hash(
    trezor_one: TrezorSimulatorProcess,
) -> None:
    session = _session(trezor_one.path)
    assert session.features.internal_model == "T1B1"
    with pytest.raises(exceptions.TrezorFailure) as failure:
        ethereum.sign_typed_data(session, PATH, copy.deepcopy(TYPED_DATA))
    assert failure.value.code == messages.FailureType.UnexpectedMessage

    signable = encode_typed_data(full_message=copy.deepcopy(TYPED_DATA))
    domain_hash, message_hash = bytes(signable.header), bytes(signable.body)
    result = ethereum.sign_typed_data_hash(session, PATH, domain_hash, message_hash)
    assert bytes(result.signature) == _expected_typed_signature(TYPED_DATA)
    text = trezor_one.screen_text()
    assert domain_hash.hex() in text
    assert message_hash.hex() in text


def _raw_call(path: str, msg: messages.MessageType) -> messages.MessageType:
    transport = UdpTransport(path.removeprefix("udp:"))
    with transport:
        write(transport, *encode(msg))
        msg_type, payload = read(transport, timeout=10)
    decoded: messages.MessageType = DEFAULT_MAPPING.decode(msg_type, payload)
    return decoded


def test_garbage_and_out_of_order_messages_get_failures(
    approving: TrezorSimulatorProcess,
) -> None:
    port = approving.port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.sendto(os.urandom(64), ("127.0.0.1", port))
        raw.sendto(b"\x00" * 5, ("127.0.0.1", port))

    out_of_order = _raw_call(approving.path, messages.EthereumTypedDataValueAck(value=b"\x01"))
    assert isinstance(out_of_order, messages.Failure)
    assert out_of_order.code == messages.FailureType.UnexpectedMessage

    transport = UdpTransport(f"127.0.0.1:{port}")
    with transport:
        write(transport, 0xFFFF, b"\xff\xff\xff")  # no such message type
        msg_type, payload = read(transport, timeout=10)
    unknown = DEFAULT_MAPPING.decode(msg_type, payload)
    assert isinstance(unknown, messages.Failure)
    assert unknown.code == messages.FailureType.UnexpectedMessage

    first = _raw_call(
        approving.path,
        messages.EthereumSignTypedData(address_n=PATH, primary_type="SessionGrant"),
    )
    assert isinstance(first, messages.ButtonRequest)  # the signing address comes first
    struct_request = _raw_call(approving.path, messages.ButtonAck())
    assert isinstance(struct_request, messages.EthereumTypedDataStructRequest)
    assert struct_request.name == "EIP712Domain"
    invalid = _raw_call(
        approving.path,
        messages.EthereumTypedDataStructAck(
            members=[
                messages.EthereumStructMember(
                    name="x",
                    type=messages.EthereumFieldType(
                        data_type=messages.EthereumDataType.UINT, size=64
                    ),
                )
            ]
        ),
    )
    assert isinstance(invalid, messages.Failure)
    assert invalid.code == messages.FailureType.DataError

    session = _session(approving.path)
    assert ethereum.get_address(session, PATH) == ACCOUNT.address


def test_stall_leaves_signing_unanswered_until_cancel() -> None:
    for sim in _start(auto="approve", extra_args=["--stall"]):
        session = _session(sim.path)
        assert ethereum.get_address(session, PATH) == ACCOUNT.address
        transport = UdpTransport(sim.path.removeprefix("udp:"))
        with transport:
            write(transport, *encode(messages.EthereumSignMessage(address_n=PATH, message=b"x")))
            with pytest.raises(Timeout):
                read(transport, timeout=1)
            # The request was swallowed; the host's Cancel still gets its Failure.
            write(transport, *encode(messages.Cancel()))
            answer = DEFAULT_MAPPING.decode(*read(transport, timeout=10))
        assert isinstance(answer, messages.Failure)
        assert answer.code == messages.FailureType.ActionCancelled


def test_garbage_answers_signing_with_a_non_protocol_packet() -> None:
    for sim in _start(auto="approve", extra_args=["--garbage"]):
        session = _session(sim.path)
        with pytest.raises(exceptions.ProtocolError):
            ethereum.sign_message(session, PATH, "noise")


def test_drop_after_releases_the_port_like_an_unplugged_emulator() -> None:
    for sim in _start(auto="approve", extra_args=["--drop-after", "1"]):
        answered = _raw_call(sim.path, messages.Ping(message="one"))
        assert isinstance(answered, messages.Success)
        assert not sim.is_ready()  # the ping after the last answered message closed the port
        host, port = sim.path.removeprefix("udp:").rsplit(":", 1)
        assert udp_port_bound(host, int(port)) is False


def test_arrays_of_arrays_fail_as_in_firmware(approving: TrezorSimulatorProcess) -> None:
    """trezorlib refuses them itself; a raw host streaming one gets the firmware's Failure."""
    edt = messages.EthereumDataType
    uint8 = messages.EthereumFieldType(data_type=edt.UINT, size=1)
    nested = messages.EthereumFieldType(
        data_type=edt.ARRAY,
        entry_type=messages.EthereumFieldType(data_type=edt.ARRAY, entry_type=uint8),
    )
    structs = {
        "EIP712Domain": [
            messages.EthereumStructMember(
                name="name", type=messages.EthereumFieldType(data_type=edt.STRING)
            )
        ],
        "Grid": [messages.EthereumStructMember(name="cells", type=nested)],
    }
    reply = _raw_call(
        approving.path, messages.EthereumSignTypedData(address_n=PATH, primary_type="Grid")
    )
    for _ in range(50):
        if isinstance(reply, messages.ButtonRequest):
            answer: messages.MessageType = messages.ButtonAck()
        elif isinstance(reply, messages.EthereumTypedDataStructRequest):
            answer = messages.EthereumTypedDataStructAck(members=structs[reply.name])
        elif isinstance(reply, messages.EthereumTypedDataValueRequest):
            # The domain name, then array lengths (uint16) for the outer and inner array.
            value = b"grid" if reply.member_path[0] == 0 else b"\x00\x01"
            answer = messages.EthereumTypedDataValueAck(value=value)
        else:
            break
        reply = _raw_call(approving.path, answer)
    assert isinstance(reply, messages.Failure)
    assert reply.code == messages.FailureType.FirmwareError
