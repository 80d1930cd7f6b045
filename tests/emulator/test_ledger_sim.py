"""The simulated Ledger Ethereum app on the wire: Speculos framing, APDUs, status words."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from emulator.keys import DEFAULT_MNEMONIC, Keyring
from emulator.ledger import eip712
from emulator.ledger.app import EthereumApp
from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.ledger.menu import Settings
from emulator.ledger.screen import Screen
from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.devices.ledger import pack_bip32, typed_data_apdus

PATH = DEFAULT_DERIVATION_PATH
EXPECTED = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=PATH).address


def exchange(sock: socket.socket, apdu: bytes) -> tuple[bytes, int]:
    sock.sendall(len(apdu).to_bytes(4, "big") + apdu)
    size = int.from_bytes(_recv(sock, 4), "big")
    reply = _recv(sock, size + 2)
    return reply[:-2], int.from_bytes(reply[-2:], "big")


def _recv(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerSimulatorProcess]:
    log = Path(tmp_path_factory.mktemp("ledger")) / "sim.log"
    with LedgerSimulatorProcess(model="nanosp", auto="approve", log_path=log) as process:
        yield process


def connect(sim: LedgerSimulatorProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", sim.apdu_port), timeout=10)
    return sock


def test_address_matches_eth_account(sim: LedgerSimulatorProcess) -> None:
    with connect(sim) as sock:
        data, sw = exchange(sock, bytes([0xE0, 0x02, 0x00, 0x01]) + _lc(pack_bip32(PATH)))
    assert sw == 0x9000
    assert data[0] == 65 and data[1] == 0x04
    address = data[2 + 65 : 2 + 65 + data[66]].decode()
    assert "0x" + address == EXPECTED
    assert len(data) == 1 + 65 + 1 + 40 + 32  # P2=01: chain code appended


def test_app_configuration_reports_blind_signing_flag_and_version(
    sim: LedgerSimulatorProcess,
) -> None:
    with connect(sim) as sock:
        data, sw = exchange(sock, bytes.fromhex("e006000000"))
        assert (sw, data) == (0x9000, bytes([0x02, 1, 13, 0]))
        sim.set_settings(blind_signing=True)
        data, sw = exchange(sock, bytes.fromhex("e006000000"))
        assert (sw, data[0]) == (0x9000, 0x03)
        sim.set_settings(blind_signing=False)


def test_bad_apdus_get_status_words_and_the_sim_keeps_serving(
    sim: LedgerSimulatorProcess,
) -> None:
    with connect(sim) as sock:
        assert exchange(sock, bytes.fromhex("e0ff000000"))[1] == 0x6D00
        assert exchange(sock, bytes.fromhex("a0020000"))[1] == 0x6E00
        assert exchange(sock, bytes.fromhex("e002050000"))[1] == 0x6B00
        assert exchange(sock, bytes.fromhex("e0020000020c00"))[1] == 0x6A80  # 12-level path
        assert exchange(sock, bytes.fromhex("e002"))[1] == 0x6700
        assert exchange(sock, bytes.fromhex("e01c00ff0400010203"))[1] == 0x6985  # no context
        assert exchange(sock, bytes.fromhex("e01a00000141"))[1] == 0x9000  # struct "A"
        assert exchange(sock, bytes.fromhex("e01a00ff0109"))[1] == 0x6A80  # field type 9
        assert exchange(sock, bytes.fromhex("e006000000"))[1] == 0x9000


def test_a_new_connection_replaces_the_old_one(sim: LedgerSimulatorProcess) -> None:
    first = connect(sim)
    second = connect(sim)
    try:
        assert exchange(second, bytes.fromhex("e006000000"))[1] == 0x9000
        first.settimeout(5)
        assert first.recv(1) == b""  # closed by the simulator
    finally:
        first.close()
        second.close()


def test_locked_and_dashboard_status_words(sim: LedgerSimulatorProcess) -> None:
    with connect(sim) as sock:
        sim.set_state("locked")
        assert exchange(sock, bytes.fromhex("e006000000"))[1] == 0x5515
        sim.set_state("dashboard")
        assert exchange(sock, bytes.fromhex("e006000000"))[1] == 0x6E01
        data, sw = exchange(sock, bytes.fromhex("b001000000"))
        assert sw == 0x9000 and data[2 : 2 + data[1]] == b"BOLOS"
        sim.set_state("app")
        data, sw = exchange(sock, bytes.fromhex("b001000000"))
        assert sw == 0x9000 and data[2 : 2 + data[1]] == b"Ethereum"


DOCUMENT = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "chainId", "type": "uint256"},
        ],
        "Item": [{"name": "tag", "type": "bytes3"}, {"name": "delta", "type": "int16"}],
        "Box": [
            {"name": "grid", "type": "uint8[][2]"},
            {"name": "items", "type": "Item[]"},
            {"name": "blob", "type": "bytes"},
            {"name": "ok", "type": "bool"},
        ],
    },
    "primaryType": "Box",
    "domain": {"name": "x" * 300, "chainId": 5},
    "message": {
        "grid": [[1, 2], []],
        "items": [{"tag": "0x010203", "delta": -300}, {"tag": "0x00", "delta": 7}],
        "blob": "0x" + "ab" * 600,
        "ok": True,
    },
}


def test_eip712_stream_hashes_like_eth_account() -> None:
    """Nested arrays, negative ints, bytesN, and values spanning several APDUs."""
    from eth_account.messages import encode_typed_data

    session = eip712.Eip712Session()
    definitions, implementation = typed_data_apdus(DOCUMENT)
    for raw in definitions:
        (session.define_struct if raw[3] == 0 else session.define_field)(raw[5:])
    for raw in implementation:
        if raw[3] == 0x00:
            session.set_root(raw[5:])
        elif raw[3] == 0x0F:
            session.array_size(raw[5:])
        else:
            session.field_value(raw[5:], partial=raw[2] != 0)
    signable = encode_typed_data(full_message=DOCUMENT)
    assert session.domain_hash == signable.header
    assert session.message_hash == signable.body


def test_eip712_refuses_values_that_do_not_fit() -> None:
    app = EthereumApp(Keyring(), Screen(auto="approve"), model="stax", settings=Settings())
    definitions, implementation = typed_data_apdus(DOCUMENT)
    for raw in definitions:
        assert app.handle(raw) == b"\x90\x00"
    assert app.handle(implementation[0]) == b"\x90\x00"
    # A 3-byte value for a string announced as 5 bytes, marked complete.
    assert app.handle(bytes.fromhex("e01c00ff050005616263")) == b"\x6a\x80"
    # The context is gone after an error, as in the app.
    assert app.handle(implementation[1]) == b"\x69\x85"


def _lc(data: bytes) -> bytes:
    return bytes([len(data)]) + data


def test_menu_turns_raw_messages_on_by_buttons() -> None:
    """Home, "App settings", the switches and "Back", as on the Nano; "Quit app" leaves."""
    screen = Screen()
    app = EthereumApp(Keyring(), screen, model="nanosp", settings=Settings())
    assert screen.current_lines == ("Ethereum", "app is ready")
    screen.press("right")
    assert screen.current_lines == ("App settings",)
    screen.press("both")
    assert screen.current_lines[0] == "Blind signing"
    screen.press("right")
    assert screen.current_lines[0] == "Raw messages"
    assert screen.current_lines[-1] == "Disabled"
    screen.press("both")
    assert screen.current_lines[-1] == "Enabled"
    assert app.settings.raw_messages and not app.settings.blind_signing
    screen.press("right")
    assert screen.current_lines == ("Back",)
    screen.press("both")
    assert screen.current_lines == ("Ethereum", "app is ready")
    for _ in range(3):
        screen.press("right")
    assert screen.current_lines == ("Quit app",)
    screen.press("both")
    assert app.state == "dashboard"
