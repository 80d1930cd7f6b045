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
"""

from __future__ import annotations

import logging

from eth_keys.datatypes import PrivateKey
from eth_utils.crypto import keccak

from emulator.keys import Keyring
from emulator.ledger import eip712
from emulator.ledger.menu import AppMenu, Settings
from emulator.ledger.review import nano_review, touch_review
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

# Status words: ledger-secure-sdk include/status_words.h (SWO_*), as the app uses them.
SW_OK = 0x9000
SW_REJECTED = 0x6985  # SWO_CONDITIONS_NOT_SATISFIED: also "rejected by the user"
SW_INVALID_DATA = 0x6A80  # SWO_INCORRECT_DATA
SW_WRONG_DATA_LENGTH = 0x6A87  # SWO_WRONG_DATA_LENGTH: main.c, when apdu_parser fails
SW_COMMAND_NOT_ALLOWED = 0x6980  # SWO_COMMAND_NOT_ALLOWED: EIP-712 with no context
SW_INVALID_P1_P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_LOCKED = 0x5515  # BOLOS: device locked (PIN screen)
SW_APP_NOT_OPEN = 0x6E01  # BOLOS dashboard: CLA of an app that is not open

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


class ApduError(Exception):
    def __init__(self, sw: int, reason: str) -> None:
        super().__init__(f"0x{sw:04X}: {reason}")
        self.sw = sw


def parse_bip32(data: bytes) -> tuple[list[int], bytes]:
    """(indices, rest) of "count || index_be32 ..."; at most 10 levels, as the app."""
    if not data or not 1 <= data[0] <= 10 or len(data) < 1 + 4 * data[0]:
        raise ApduError(SW_INVALID_DATA, "bad BIP-32 path")
    count = data[0]
    path = [int.from_bytes(data[1 + 4 * i : 5 + 4 * i], "big") for i in range(count)]
    return path, data[1 + 4 * count :]


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
        self._eip712: eip712.Eip712Session | None = None
        self._eip712_shown: list[eip712.Shown] = []
        self._filtering_full = False
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
        except eip712.Eip712Error as exc:
            log.info("EIP-712 APDU %s refused: %s", apdu[:5].hex(), exc)
            self._eip712 = None
            return exc.sw.to_bytes(2, "big")
        except Exception:
            log.exception("unexpected failure on APDU %s", apdu.hex())
            self._eip712 = None
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
            INS_SIGN_EIP712: self._sign_eip712,
            INS_EIP712_STRUCT_DEF: self._struct_def,
            INS_EIP712_STRUCT_IMPL: self._struct_impl,
            INS_EIP712_FILTERING: self._filtering,
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
                Page(("Verify Ethereum", "address")),
                Page(("Address", address)),
                Page(("Confirm",), action="approve"),
                Page(("Cancel",), action="reject", last=True),
            ]
            if not self.screen.review(pages):
                raise ApduError(SW_REJECTED, "address rejected")
        pubkey = b"\x04" + key.public_key.to_bytes()
        out = bytes([len(pubkey)]) + pubkey + bytes([40]) + address[2:].encode()
        if p2 == 1:
            out += self.keyring.extended_public(path)[0]
        return out

    def _sign(self, path: list[int], digest: bytes) -> bytes:
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
        body_pages = [
            Page(("Message", text[i : i + 100])) for i in range(0, max(len(text), 1), 100)
        ]
        pages = [
            Page(("Review message",)),
            *body_pages,
            Page(("Sign message",), action="approve"),
            Page(("Reject message",), action="reject", last=True),
        ]
        if not self.screen.review(pages):
            raise ApduError(SW_REJECTED, "message rejected")
        prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
        return self._sign(self._message_path, keccak(prefix + message))

    # -- EIP-712 ---------------------------------------------------------------------------

    def _struct_def(self, p1: int, p2: int, body: bytes) -> bytes:
        if self._eip712 is None:
            self._eip712 = eip712.Eip712Session()
            self._eip712_shown = []
            self._filtering_full = False
        if p2 == 0x00:
            self._eip712.define_struct(body)
        elif p2 == 0xFF:
            self._eip712.define_field(body)
        else:
            self._eip712 = None
            raise ApduError(SW_INVALID_P1_P2, "P2")
        return b""

    def _fields_refused(self) -> bool:
        """A Nano with neither setting cannot show the fields (basic filtering only)."""
        return (
            not self.touch
            and not self._filtering_full
            and not self.settings.raw_messages
            and not self.settings.blind_signing
        )

    def _struct_impl(self, p1: int, p2: int, body: bytes) -> bytes:
        session = self._eip712
        if session is None:  # handle_eip712_struct_impl: SWO_COMMAND_NOT_ALLOWED
            raise ApduError(SW_COMMAND_NOT_ALLOWED, "no EIP-712 context")
        if p2 == 0x00:
            shown = session.set_root(body)
        elif p2 == 0x0F:
            shown = session.array_size(body)
        elif p2 == 0xFF:
            shown = session.field_value(body, partial=p1 != 0x00)
            if shown and self._fields_refused():
                # The first field to draw meets ui_712_redraw_generic_step's check.
                self._eip712 = None
                self._show_blind_signing_error()
                raise ApduError(SW_INVALID_DATA, "blind signing must be enabled")
        else:
            self._eip712 = None
            raise ApduError(SW_INVALID_P1_P2, "P2")
        self._eip712_shown.extend(shown)
        return b""

    def _filtering(self, p1: int, p2: int, body: bytes) -> bytes:
        # handle_eip712_filtering: no context is SWO_COMMAND_NOT_ALLOWED; P1 is read only by
        # some filters; without full filtering every P2 but "activate" succeeds unread.
        if self._eip712 is None:
            raise ApduError(SW_COMMAND_NOT_ALLOWED, "no EIP-712 context")
        if p2 == 0x00:
            if not self.settings.raw_messages:
                self._filtering_full = True
            return b""
        if not self._filtering_full:
            return b""
        # Filters are signed by Ledger's CAL key, which the simulator does not hold.
        self._eip712 = None
        raise ApduError(SW_INVALID_DATA, "filter signature does not verify")

    def _show_blind_signing_error(self) -> None:
        if self.touch:
            self.screen.show(
                (
                    "This transaction cannot be clear-signed",
                    "Enable blind signing in the settings to sign this transaction.",
                )
            )
        else:
            # ui_blind_signing.c (Nano): "Blind signing must\nbe enabled in\nsettings"; the
            # menu's "App settings" holds the switch.
            self.screen.show(("Blind signing must", "be enabled in", "settings"))

    def _sign_eip712(self, p1: int, p2: int, body: bytes) -> bytes:
        # main.c: P2 00 is v0 (which wants P1 00), P2 01 the full implementation (P1 unread).
        if p2 not in (0x00, 0x01):
            raise ApduError(SW_INVALID_P1_P2, "P2")
        if p2 == 0x00:
            if p1 != 0x00:
                raise ApduError(SW_INVALID_P1_P2, "P1")
            return self._sign_eip712_v0(body)
        session = self._eip712
        self._eip712 = None
        if session is None:  # handle_eip712_sign: SWO_COMMAND_NOT_ALLOWED
            raise ApduError(SW_COMMAND_NOT_ALLOWED, "no EIP-712 context")
        digest = session.signing_hash()
        path, _ = parse_bip32(body)
        assert session.message_hash is not None
        if not self.screen.review(self._eip712_pages(session.message_hash)):
            raise ApduError(SW_REJECTED, "typed message rejected")
        return self._sign(path, digest)

    def _eip712_pairs(self, message_hash: bytes) -> list[tuple[str, str]]:
        """The review's (title, value) pairs (ui_logic.c): "Review struct" before each root
        struct when verbose (commands_712.c P2_IMPL_NAME; inner structs get none, path.c),
        the message's fields only when verbose, else its hash after the domain."""
        verbose = self.touch or self.settings.raw_messages
        pairs: list[tuple[str, str]] = []
        in_domain = True
        for item in self._eip712_shown:
            if isinstance(item, eip712.ShownStruct):
                if not item.root:
                    continue
                if item.name != eip712.DOMAIN_STRUCT and in_domain:
                    in_domain = False
                    if not verbose:
                        pairs.append(("Message hash", "0x" + message_hash.hex()))
                if verbose:
                    pairs.append(("Review struct", item.name))
            elif verbose or in_domain:
                pairs.append((item.key, item.value))
        return pairs

    def _eip712_pages(self, message_hash: bytes) -> list[Page]:
        pairs = self._eip712_pairs(message_hash)
        if self.touch:
            return touch_review(pairs, "Sign typed message?")
        return nano_review(pairs, skippable=self.settings.raw_messages, operation="message")

    def _sign_eip712_v0(self, body: bytes) -> bytes:
        self._eip712 = None
        if not self.settings.blind_signing:
            self._show_blind_signing_error()
            raise ApduError(SW_INVALID_DATA, "blind signing must be enabled")
        path, rest = parse_bip32(body)
        if len(rest) < 64:
            raise ApduError(SW_INVALID_DATA, "domain and message hashes missing")
        domain_hash, message_hash = rest[:32], rest[32:64]
        # ui_sign_712_v0 reviews a TYPE_TRANSACTION: its reject page says "transaction".
        pairs = [
            ("Domain hash", "0x" + domain_hash.hex()),
            ("Message hash", "0x" + message_hash.hex()),
        ]
        pages = nano_review(pairs, skippable=False, operation="transaction")
        if not self.screen.review(pages):
            raise ApduError(SW_REJECTED, "typed message rejected")
        return self._sign(path, keccak(b"\x19\x01" + domain_hash + message_hash))
