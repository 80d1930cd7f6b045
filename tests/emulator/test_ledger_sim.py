"""The simulated Ledger Ethereum app on the wire: Speculos framing, APDUs, status words."""

from __future__ import annotations

import socket
import threading
import time
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
        assert (sw, data) == (0x9000, bytes([0x02, 1, 22, 0]))
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
        assert exchange(sock, bytes.fromhex("e002"))[1] == 0x6A87
        assert exchange(sock, bytes.fromhex("e01c00ff0400010203"))[1] == 0x6980  # no context
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
    assert app.handle(implementation[1]) == b"\x69\x80"


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
    assert screen.current_lines[0] == "Nonce"
    screen.press("right")
    assert screen.current_lines[0] == "Raw messages"
    assert screen.current_lines[-1] == "Disabled"
    screen.press("both")
    assert screen.current_lines[-1] == "Enabled"
    assert app.settings.raw_messages and not app.settings.blind_signing
    for _ in range(4):
        screen.press("right")
    assert screen.current_lines == ("Back",)
    screen.press("both")
    assert screen.current_lines == ("App settings",)  # where the section was entered
    for _ in range(2):
        screen.press("right")
    assert screen.current_lines == ("Quit app",)
    screen.press("both")
    assert app.state == "dashboard"


# --- status words and accepted inputs as app-ethereum 1.22.0 answers them ------------------
# Each case names the source it follows (LedgerHQ/app-ethereum at the 1.22.0 release tag, and
# ledger-secure-sdk for the APDU parser and the SWO_* values of include/status_words.h).

SIGN_PATH = pack_bip32(PATH)
MAIL = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}],
        "Mail": [{"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "x"},
    "message": {"contents": "hi"},
}


def _app(model: str = "stax") -> EthereumApp:
    return EthereumApp(Keyring(), Screen(auto="approve"), model=model, settings=Settings())


def _sw(app: EthereumApp, apdu: bytes) -> int:
    return int.from_bytes(app.handle(apdu)[-2:], "big")


def _apdu(ins: int, p1: int, p2: int, data: bytes = b"") -> bytes:
    return bytes([0xE0, ins, p1, p2, len(data)]) + data


def _defined(app: EthereumApp) -> list[bytes]:
    definitions, implementation = typed_data_apdus(MAIL)
    for raw in definitions:
        assert _sw(app, raw) == 0x9000
    return implementation


def test_lc_must_match_the_data_and_may_be_left_out() -> None:
    """SDK lib_standard_app/parser.c apdu_parser; src/main.c app_main: SWO_WRONG_DATA_LENGTH."""
    app = _app()
    assert _sw(app, bytes.fromhex("e006000005")) == 0x6A87  # Lc 5, no data
    assert _sw(app, bytes.fromhex("e00600000100")[:-1] + b"\x00\x00") == 0x6A87
    assert _sw(app, bytes.fromhex("e0ff0000")) == 0x6D00  # no Lc: Lc = 0, then INS checked
    assert app.handle(bytes.fromhex("e0060000")) == bytes([0x02, 1, 22, 0]) + b"\x90\x00"


def test_eip712_without_a_context_is_command_not_allowed() -> None:
    """commands_712.c handle_eip712_struct_impl / _filtering / _sign: SWO_COMMAND_NOT_ALLOWED."""
    app = _app()
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"Mail")) == 0x6980
    assert _sw(app, _apdu(0x1E, 0x00, 0x00)) == 0x6980
    assert _sw(app, _apdu(0x0C, 0x00, 0x01, SIGN_PATH)) == 0x6980


def test_message_before_its_domain_is_refused_and_the_context_dropped() -> None:
    """path.c path_set_root: root_type must be ROOT_DOMAIN before a message root; the check sets
    no code, so commands_712.c apdu_reply answers SWO_PARAMETER_ERROR_NO_INFO and deinits."""
    app = _app()
    _defined(app)
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"Mail")) == 0x6A00
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"EIP712Domain")) == 0x6980  # context gone


def test_roots_domain_once_then_known_structs_only() -> None:
    """path.c path_set_root: the same root again and a second domain fail without a code
    (0x6A00); typed_data.c get_structn: an undefined root is SWO_INCORRECT_DATA."""
    app = _app()
    implementation = _defined(app)
    assert _sw(app, implementation[0]) == 0x9000  # EIP712Domain
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"EIP712Domain")) == 0x6A00
    _defined(app)
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"Nope")) == 0x6A80


def test_definitions_close_once_a_root_is_set() -> None:
    """commands_712.c handle_eip712_struct_def: struct_state DEFINED fails with no code."""
    app = _app()
    implementation = _defined(app)
    assert _sw(app, implementation[0]) == 0x9000
    assert _sw(app, _apdu(0x1A, 0x00, 0x00, b"Late")) == 0x6A00


def test_field_definition_layout_errors() -> None:
    """typed_data.c set_struct_field: no struct yet, a size on a custom type, a truncated part,
    an array level kind other than 0/1, bytes left over: all SWO_INCORRECT_DATA."""
    app = _app()
    assert _sw(app, _apdu(0x1A, 0x00, 0xFF, bytes([0x05, 1]) + b"a")) == 0x6A80
    cases = [
        bytes([0x40, 4, 1]) + b"a",  # custom type with a size
        bytes([0x05, 3]) + b"a",  # key name shorter than announced
        bytes([0x85, 1, 2, 1]) + b"a",  # array level kind 2
        bytes([0x05, 1]) + b"ab",  # trailing byte
        b"",  # no data at all
    ]
    for payload in cases:
        assert _sw(app, _apdu(0x1A, 0x00, 0x00, b"S")) == 0x9000
        assert _sw(app, _apdu(0x1A, 0x00, 0xFF, payload)) == 0x6A80, payload.hex()


def test_field_definition_edge_cases_the_app_accepts() -> None:
    """typed_data.c stores what it is given: a repeated struct name, a size on a bool, a uint
    with no size, any size value, an array of no levels, an empty key, an unknown type nibble.
    The unknown type fails only when a root's type hash needs its name (sol_typenames.c)."""
    app = _app()
    assert _sw(app, _apdu(0x1A, 0x00, 0x00, b"S")) == 0x9000
    assert _sw(app, _apdu(0x1A, 0x00, 0x00, b"S")) == 0x9000
    assert _sw(app, _apdu(0x1A, 0x00, 0x00, b"EIP712Domain")) == 0x9000
    for payload in (
        bytes([0x44, 7, 1]) + b"a",  # bool with a size
        bytes([0x02, 1]) + b"b",  # uint with no size
        bytes([0x42, 64, 1]) + b"c",  # uint512
        bytes([0x85, 0, 1]) + b"d",  # string array of no levels
        bytes([0x05, 0]),  # empty key
        bytes([0x09, 1]) + b"e",  # type nibble 9
    ):
        assert _sw(app, _apdu(0x1A, 0x00, 0xFF, payload)) == 0x9000, payload.hex()
    assert _sw(app, _apdu(0x1C, 0x00, 0x00, b"EIP712Domain")) == 0x6A80


def test_values_arriving_where_none_is_expected() -> None:
    """path.c path_new_array_depth and field_hash.c field_hash: SWO_INCORRECT_DATA."""
    app = _app()
    implementation = _defined(app)
    assert _sw(app, implementation[0]) == 0x9000
    assert _sw(app, _apdu(0x1C, 0x00, 0x0F, b"\x02")) == 0x6A80  # no array here
    implementation = _defined(app)
    assert _sw(app, implementation[0]) == 0x9000
    assert _sw(app, implementation[1]) == 0x9000  # the domain's only field: domain done
    assert _sw(app, _apdu(0x1C, 0x00, 0xFF, b"\x00\x01a")) == 0x6A80  # no root open


def test_value_encodings_the_app_accepts() -> None:
    """encode_field.c: numbers and fixed bytes up to 32 bytes whatever the declared size,
    an empty uint, any byte for a bool; an int sign-extended only at its full size."""
    session = eip712.Eip712Session()
    session.define_struct(b"EIP712Domain")
    for kind, size, key in ((0x42, 1, b"u"), (0x41, 2, b"i"), (0x04, None, b"b")):
        sized = bytes([kind]) + (bytes([size]) if size else b"")
        session.define_field(sized + bytes([len(key)]) + key)
    session.set_root(b"EIP712Domain")
    session.field_value(b"\x00\x02\x01\x00", partial=False)  # 2 bytes for a uint8
    session.field_value(b"\x00\x01\xff", partial=False)  # 1 byte of an int16: +255
    session.field_value(b"\x00\x01\x02", partial=False)  # bool 2
    assert session.domain_hash is not None
    type_hash = session.type_hash("EIP712Domain")
    words = (256).to_bytes(32, "big") + (255).to_bytes(32, "big") + (2).to_bytes(32, "big")
    from eth_utils.crypto import keccak

    assert session.domain_hash == keccak(type_hash + words)


def test_eip712_sign_p1_unread_and_incomplete_refused() -> None:
    """src/main.c: P2 01 runs handle_eip712_sign, which never reads P1; P2 00 (v0) wants P1 00
    (cmd_sign_message_eip712.c); other P2 is SWO_WRONG_P1_P2. commands_712.c
    handle_eip712_sign: a hash still zero is SWO_INCORRECT_DATA."""
    from eth_account.messages import encode_typed_data

    app = _app()
    implementation = _defined(app)
    assert _sw(app, implementation[0]) == 0x9000
    assert _sw(app, _apdu(0x0C, 0x00, 0x01, SIGN_PATH)) == 0x6A80  # message missing
    assert _sw(app, _apdu(0x0C, 0x00, 0x02, SIGN_PATH)) == 0x6B00
    assert _sw(app, _apdu(0x0C, 0x01, 0x00, SIGN_PATH + bytes(64))) == 0x6B00
    implementation = _defined(app)
    for raw in implementation:
        assert _sw(app, raw) == 0x9000
    reply = app.handle(_apdu(0x0C, 0x5A, 0x01, SIGN_PATH))
    assert reply[-2:] == b"\x90\x00"
    v, rs = reply[0], reply[1:65]
    signer = Account.recover_message(
        encode_typed_data(full_message=MAIL), vrs=(v, rs[:32], rs[32:])
    )
    assert signer == EXPECTED


def test_filtering_without_full_filtering_takes_any_p2() -> None:
    """commands_712.c handle_eip712_filtering: unless filtering is FULL, every P2 but
    "activate" answers SWO_SUCCESS without being read."""
    app = _app()
    _defined(app)
    assert _sw(app, _apdu(0x1E, 0x00, 0x77, b"\x01")) == 0x9000


def test_personal_message_p2_unread_and_p1_checked() -> None:
    """cmd_sign_message.c handle_sign_personal_message: P2 never read; P1 00 or 80, else
    SWO_WRONG_P1_P2; P1 80 with nothing started is SWO_INCORRECT_DATA. final_process: a
    byte neither printable nor space shows the whole message as 0x + lower-case hex."""
    from eth_account.messages import encode_defunct

    screen = Screen(auto="approve")
    app = EthereumApp(Keyring(), screen, model="nanosp", settings=Settings())
    assert _sw(app, _apdu(0x08, 0x80, 0x00, b"more")) == 0x6A80
    assert _sw(app, _apdu(0x08, 0x42, 0x00, SIGN_PATH)) == 0x6B00
    message = b"\x01hi"
    reply = app.handle(
        _apdu(0x08, 0x00, 0x33, SIGN_PATH + len(message).to_bytes(4, "big") + message)
    )
    assert reply[-2:] == b"\x90\x00"
    signer = Account.recover_message(
        encode_defunct(primitive=message), vrs=(reply[0], reply[1:33], reply[33:65])
    )
    assert signer == EXPECTED
    assert any(event["text"] == "0x016869" for event in screen.events())


def test_nano_warning_rejects_as_a_transaction_and_the_review_as_a_message() -> None:
    """ledger-secure-sdk nbgl_use_case_nanos.c: the blind-signing warning's reject page is drawn
    by the warning flow (getLastPageInfo falls to "Reject transaction"); the review's own last
    page names its type; the skip page follows every pair but the first."""
    screen = Screen()
    app = EthereumApp(Keyring(), screen, model="nanosp", settings=Settings(raw_messages=True))
    outcome: list[bytes] = []
    implementation = _defined(app)
    for raw in implementation:
        assert _sw(app, raw) == 0x9000
    thread = threading.Thread(
        target=lambda: outcome.append(app.handle(_apdu(0x0C, 0x00, 0x01, SIGN_PATH)))
    )
    thread.start()
    try:
        for _ in range(100):
            if screen.reviewing:
                break
            time.sleep(0.05)
        # As the real app lays them out (a Nano S Plus wraps by pixel width, keeping the
        # space a line broke at): tests/emulator/data/nano_screens.json.
        assert screen.current_lines == (
            "Blind signing ahead",
            "To accept risk, press ",
            "both buttons",
        )
        screen.press("right")
        assert screen.current_lines == ("Reject transaction",)
        screen.press("left")
        screen.press("both")
        assert screen.current_lines == ("Review typed ", "message")
        seen = []
        while screen.current_lines != ("Sign message",):
            screen.press("right")
            seen.append(screen.current_lines)
        assert ("Press right button to ", "continue message or ", "press both to skip") in seen
        screen.press("right")
        assert screen.current_lines == ("Reject message",)
        screen.press("both")
    finally:
        thread.join(10)
    assert outcome == [b"\x69\x85"]
