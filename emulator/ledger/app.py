"""The simulated Ledger Ethereum app: APDU in, response data + status word out.

Follows LedgerHQ/app-ethereum doc/ethapp.adoc for the encodings and the app's sources for
behaviour: status words (apdu_constants.h), the blind-signing refusal of EIP-712 on a Nano
whose "Raw messages" (verbose EIP-712) and "Blind signing" settings are both off
(ui_logic.c: ui_712_redraw_generic_step -> 0x6A80 with "Blind signing must be enabled in
Settings"), the v0 hashed mode's need for "Blind signing" (handle_sign_eip712_message_v0),
and GET APP CONFIGURATION's flags (0x01 = blind signing allowed, 0x02 always set; the app
reports no flag for "Raw messages").

One deliberate simplification: the real app reviews EIP-712 fields while they stream in,
holding each field's reply until the person moves past it; the simulator answers the stream
at once and shows the same screens, in the same order, when the sign APDU arrives. A
rejection therefore arrives on the sign APDU, with the same status word (0x6985).

The EIP-712 commands and their review are in `app_eip712.py`, the status words in `apdu.py`.
"""

from __future__ import annotations

import logging

from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

from emulator.keys import Keyring
from emulator.ledger.apdu import (
    SW_APP_NOT_OPEN,
    SW_CLA_NOT_SUPPORTED,
    SW_INS_NOT_SUPPORTED,
    SW_INVALID_DATA,
    SW_INVALID_P1_P2,
    SW_LOCKED,
    SW_OK,
    SW_REJECTED,
    SW_WRONG_DATA_LENGTH,
    ApduError,
    parse_bip32,
)
from emulator.ledger.app_eip712 import Eip712Commands
from emulator.ledger.eip712_defs import Eip712Error
from emulator.ledger.menu import AppMenu, Settings
from emulator.ledger.review import ADDRESS_STATUS, MESSAGE_STATUS, info_lines, pair_pages
from emulator.ledger.screen import Page, Screen

log = logging.getLogger(__name__)

CLA = 0xE0
CLA_BOLOS = 0xB0

INS_GET_PUBLIC_ADDRESS = 0x02
INS_GET_APP_CONFIGURATION = 0x06
INS_SIGN_PERSONAL_MESSAGE = 0x08
INS_SIGN_EIP712 = 0x0C
INS_EIP712_STRUCT_DEF = 0x1A
INS_EIP712_STRUCT_IMPL = 0x1C
INS_EIP712_FILTERING = 0x1E
INS_BOLOS_GET_VERSION = 0x01

APP_FLAG_DATA_ALLOWED = 0x01
APP_FLAG_EXTERNAL_TOKEN_NEEDED = 0x02

APP_NAME = "Ethereum"
APP_VERSION = (1, 22, 0)
DASHBOARD_NAME = "BOLOS"
DASHBOARD_VERSION = "1.1.2"

MODELS = {
    # name -> (display name, screen width, height, touch screen)
    "nanosp": ("Nano S Plus", 128, 64, False),
    "nanox": ("Nano X", 128, 64, False),
    "stax": ("Stax", 400, 672, True),
    "flex": ("Flex", 480, 600, True),
}


class EthereumApp:
    """State of the device (locked, dashboard, app open), the app's settings, and its APDUs."""

    def __init__(
        self,
        keyring: Keyring,
        screen: Screen,
        *,
        model: str = "nanosp",
        settings: Settings | None = None,
        state: str = "app",
    ) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}")
        self.keyring = keyring
        self.screen = screen
        self.model = model
        self.settings = settings or Settings()
        self.state = state
        self._eip712 = Eip712Commands(self)
        self._message: bytearray | None = None
        self._message_len = 0
        self._message_path: list[int] = []
        version = ".".join(map(str, APP_VERSION))
        screen.attach_menu(AppMenu(self.settings, version, on_quit=self._quit))

    def _quit(self) -> None:
        """ "Quit app" on the menu: back to the dashboard, as the real device does."""
        self.state = "dashboard"

    @property
    def touch(self) -> bool:
        return MODELS[self.model][3]

    def handle(self, apdu: bytes) -> bytes:
        """Response data followed by the two status-word bytes; never raises."""
        try:
            data = self._dispatch(apdu)
            return data + SW_OK.to_bytes(2, "big")
        except ApduError as exc:
            log.info("APDU %s refused: %s", apdu[:5].hex(), exc)
            return exc.sw.to_bytes(2, "big")
        except Eip712Error as exc:
            log.info("EIP-712 APDU %s refused: %s", apdu[:5].hex(), exc)
            self._eip712.drop()
            return exc.sw.to_bytes(2, "big")
        except Exception:
            log.exception("unexpected failure on APDU %s", apdu.hex())
            self._eip712.drop()
            return (0x6F00).to_bytes(2, "big")

    def _dispatch(self, apdu: bytes) -> bytes:
        if self.state == "locked":
            raise ApduError(SW_LOCKED, "device locked")
        # ledger-secure-sdk lib_standard_app/parser.c apdu_parser: four header bytes, then
        # no Lc (Lc = 0) or an Lc equal to the data's length; else main.c answers
        # SWO_WRONG_DATA_LENGTH before looking at CLA or INS.
        if len(apdu) < 4:
            raise ApduError(SW_WRONG_DATA_LENGTH, "APDU shorter than its header")
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[5:]
        if len(apdu) >= 5 and apdu[4] != len(body):
            raise ApduError(SW_WRONG_DATA_LENGTH, "Lc does not match the data length")
        if cla == CLA_BOLOS and ins == INS_BOLOS_GET_VERSION:
            return self._get_version()
        if self.state == "dashboard":
            raise ApduError(SW_APP_NOT_OPEN, "no app open")
        if cla != CLA:
            raise ApduError(SW_CLA_NOT_SUPPORTED, f"CLA 0x{cla:02X}")
        handlers = {
            INS_GET_PUBLIC_ADDRESS: self._get_address,
            INS_GET_APP_CONFIGURATION: self._get_configuration,
            INS_SIGN_PERSONAL_MESSAGE: self._sign_personal,
            INS_SIGN_EIP712: self._eip712.sign,
            INS_EIP712_STRUCT_DEF: self._eip712.struct_def,
            INS_EIP712_STRUCT_IMPL: self._eip712.struct_impl,
            INS_EIP712_FILTERING: self._eip712.filtering,
        }
        handler = handlers.get(ins)
        if handler is None:
            raise ApduError(SW_INS_NOT_SUPPORTED, f"INS 0x{ins:02X}")
        return handler(p1, p2, body)

    # -- general ---------------------------------------------------------------------------

    def _get_version(self) -> bytes:
        name, version = (
            (APP_NAME, ".".join(map(str, APP_VERSION)))
            if self.state == "app"
            else (DASHBOARD_NAME, DASHBOARD_VERSION)
        )
        out = bytes([1, len(name)]) + name.encode() + bytes([len(version)]) + version.encode()
        return out + b"\x01\x00"

    def _get_configuration(self, p1: int, p2: int, body: bytes) -> bytes:
        flags = APP_FLAG_EXTERNAL_TOKEN_NEEDED
        if self.settings.blind_signing:
            flags |= APP_FLAG_DATA_ALLOWED
        return bytes([flags, *APP_VERSION])

    def _key(self, path: list[int]) -> PrivateKey:
        return PrivateKey(self.keyring.private_key(path))

    def _get_address(self, p1: int, p2: int, body: bytes) -> bytes:
        if p1 > 1 or p2 > 1:
            raise ApduError(SW_INVALID_P1_P2, "P1/P2")
        path, rest = parse_bip32(body)
        if len(rest) not in (0, 8):
            raise ApduError(SW_INVALID_DATA, "trailing data after the path")
        key = self._key(path)
        address = key.public_key.to_checksum_address()
        if p1 == 1:
            # ui_get_public_key.c: "Verify " APPNAME "\naddress"; the SDK's address review
            # ends with "Confirm" / "Cancel".
            pages = [
                Page(info_lines("Verify Ethereum\naddress", bold=False)),
                *(Page(lines) for lines in pair_pages("Address", address)),
                Page(info_lines("Confirm"), action="approve"),
                Page(info_lines("Cancel"), action="reject", last=True),
            ]
            if not self.screen.review(pages, None if self.touch else ADDRESS_STATUS):
                raise ApduError(SW_REJECTED, "address rejected")
        pubkey = b"\x04" + key.public_key.to_bytes()
        out = bytes([len(pubkey)]) + pubkey + bytes([40]) + address[2:].encode()
        if p2 == 1:
            out += self.keyring.extended_public(path)[0]
        return out

    def sign(self, path: list[int], digest: bytes) -> bytes:
        sig = self._key(path).sign_msg_hash(digest)
        v: int = sig.v
        r: int = sig.r
        s: int = sig.s
        return bytes([27 + v]) + r.to_bytes(32, "big") + s.to_bytes(32, "big")

    # -- personal message ------------------------------------------------------------------

    def _sign_personal(self, p1: int, p2: int, body: bytes) -> bytes:
        # cmd_sign_message.c handle_sign_personal_message: P2 is never read; P1 first (00)
        # or more (80); "more" with no message started is SWO_INCORRECT_DATA.
        if p1 not in (0x00, 0x80):
            self._message = None
            raise ApduError(SW_INVALID_P1_P2, "P1")
        if p1 == 0x00:
            path, rest = parse_bip32(body)
            if len(rest) < 4:
                raise ApduError(SW_INVALID_DATA, "message length missing")
            self._message_path = path
            self._message_len = int.from_bytes(rest[:4], "big")
            self._message = bytearray(rest[4:])
        else:
            if self._message is None:
                raise ApduError(SW_INVALID_DATA, "no message started")
            self._message += body
        if len(self._message) > self._message_len:
            self._message = None
            raise ApduError(SW_INVALID_DATA, "message longer than announced")
        if len(self._message) < self._message_len:
            return b""
        message = bytes(self._message)
        self._message = None
        # final_process: a byte neither printable nor space makes the whole message shown
        # as "0x" + lower-case hex; on a Nano every space character is drawn as " ".
        if all(chr(b).isprintable() or chr(b).isspace() for b in message) and message.isascii():
            text = "".join(" " if chr(b).isspace() else chr(b) for b in message)
        else:
            text = "0x" + message.hex()
        # ui_191_start: the whole message is one pair, "Message", paged as the SDK pages it.
        body_pages = [Page(lines) for lines in pair_pages("Message", text)]
        pages = [
            Page(info_lines("Review message", bold=False)),
            *body_pages,
            Page(info_lines("Sign message"), action="approve"),
            Page(info_lines("Reject message"), action="reject", last=True),
        ]
        if not self.screen.review(pages, None if self.touch else MESSAGE_STATUS):
            raise ApduError(SW_REJECTED, "message rejected")
        prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
        return self.sign(self._message_path, keccak(prefix + message))
