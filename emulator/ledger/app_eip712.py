"""The Ledger Ethereum app's EIP-712 commands (E0 1A, 1C, 1E, 0C) and their review screens.

The streamed hashing is `eip712.py`'s; this is the app around it (commands_712.c,
ui_logic.c): the context's lifetime, the P1/P2 checks and status words, the basic/full
filtering modes, the blind-signing refusal on a Nano, and the review pages shown when the
sign APDU arrives (verbose "Review struct" pages, or the message hash alone). v0 (hashes
only, E0 0C P2 00) is here too.
"""

from __future__ import annotations

from typing import Protocol

from eth_utils.crypto import keccak

from emulator.ledger.apdu import (
    SW_COMMAND_NOT_ALLOWED,
    SW_INVALID_DATA,
    SW_INVALID_P1_P2,
    SW_REJECTED,
    ApduError,
    parse_bip32,
)
from emulator.ledger.eip712 import Eip712Session
from emulator.ledger.eip712_defs import DOMAIN_STRUCT
from emulator.ledger.eip712_values import Shown, ShownStruct
from emulator.ledger.menu import Settings
from emulator.ledger.review import MESSAGE_STATUS, nano_review, touch_review
from emulator.ledger.screen import Page, Screen


class AppHost(Protocol):
    """What the EIP-712 commands need of the app: its settings, screen and keys."""

    settings: Settings
    screen: Screen

    @property
    def touch(self) -> bool: ...

    def sign(self, path: list[int], digest: bytes) -> bytes: ...


class Eip712Commands:
    """One app's EIP-712 context (dropped on any refusal) and the APDUs that feed it."""

    def __init__(self, app: AppHost) -> None:
        self._app = app
        self._session: Eip712Session | None = None
        self._shown: list[Shown] = []
        self._filtering_full = False

    def drop(self) -> None:
        """Forget the context, as the app does when an EIP-712 APDU fails."""
        self._session = None

    def struct_def(self, p1: int, p2: int, body: bytes) -> bytes:
        if self._session is None:
            self._session = Eip712Session()
            self._shown = []
            self._filtering_full = False
        if p2 == 0x00:
            self._session.define_struct(body)
        elif p2 == 0xFF:
            self._session.define_field(body)
        else:
            self._session = None
            raise ApduError(SW_INVALID_P1_P2, "P2")
        return b""

    def _fields_refused(self) -> bool:
        """A Nano with neither setting cannot show the fields (basic filtering only)."""
        return (
            not self._app.touch
            and not self._filtering_full
            and not self._app.settings.raw_messages
            and not self._app.settings.blind_signing
        )

    def struct_impl(self, p1: int, p2: int, body: bytes) -> bytes:
        session = self._session
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
                self._session = None
                self._show_blind_signing_error()
                raise ApduError(SW_INVALID_DATA, "blind signing must be enabled")
        else:
            self._session = None
            raise ApduError(SW_INVALID_P1_P2, "P2")
        self._shown.extend(shown)
        return b""

    def filtering(self, p1: int, p2: int, body: bytes) -> bytes:
        # handle_eip712_filtering: no context is SWO_COMMAND_NOT_ALLOWED; P1 is read only by
        # some filters; without full filtering every P2 but "activate" succeeds unread.
        if self._session is None:
            raise ApduError(SW_COMMAND_NOT_ALLOWED, "no EIP-712 context")
        if p2 == 0x00:
            if not self._app.settings.raw_messages:
                self._filtering_full = True
            return b""
        if not self._filtering_full:
            return b""
        # Filters are signed by Ledger's CAL key, which the simulator does not hold.
        self._session = None
        raise ApduError(SW_INVALID_DATA, "filter signature does not verify")

    def _show_blind_signing_error(self) -> None:
        if self._app.touch:
            self._app.screen.show(
                (
                    "This transaction cannot be clear-signed",
                    "Enable blind signing in the settings to sign this transaction.",
                )
            )
        else:
            # ui_blind_signing.c (Nano): "Blind signing must\nbe enabled in\nsettings"; the
            # menu's "App settings" holds the switch.
            self._app.screen.show(("Blind signing must", "be enabled in", "settings"))

    def sign(self, p1: int, p2: int, body: bytes) -> bytes:
        # main.c: P2 00 is v0 (which wants P1 00), P2 01 the full implementation (P1 unread).
        if p2 not in (0x00, 0x01):
            raise ApduError(SW_INVALID_P1_P2, "P2")
        if p2 == 0x00:
            if p1 != 0x00:
                raise ApduError(SW_INVALID_P1_P2, "P1")
            return self._sign_v0(body)
        session = self._session
        self._session = None
        if session is None:  # handle_eip712_sign: SWO_COMMAND_NOT_ALLOWED
            raise ApduError(SW_COMMAND_NOT_ALLOWED, "no EIP-712 context")
        digest = session.signing_hash()
        path, _ = parse_bip32(body)
        assert session.message_hash is not None
        status = None if self._app.touch else MESSAGE_STATUS
        if not self._app.screen.review(self._review_pages(session.message_hash), status):
            raise ApduError(SW_REJECTED, "typed message rejected")
        return self._app.sign(path, digest)

    def _review_pairs(self, message_hash: bytes) -> list[tuple[str, str]]:
        """The review's (title, value) pairs (ui_logic.c): "Review struct" before each root
        struct when verbose (commands_712.c P2_IMPL_NAME; inner structs get none, path.c),
        the message's fields only when verbose, else its hash after the domain."""
        verbose = self._app.touch or self._app.settings.raw_messages
        pairs: list[tuple[str, str]] = []
        in_domain = True
        for item in self._shown:
            if isinstance(item, ShownStruct):
                if not item.root:
                    continue
                if item.name != DOMAIN_STRUCT and in_domain:
                    in_domain = False
                    if not verbose:
                        pairs.append(("Message hash", "0x" + message_hash.hex()))
                if verbose:
                    pairs.append(("Review struct", item.name))
            elif verbose or in_domain:
                pairs.append((item.key, item.value))
        return pairs

    def _review_pages(self, message_hash: bytes) -> list[Page]:
        pairs = self._review_pairs(message_hash)
        if self._app.touch:
            return touch_review(pairs, "Sign typed message?")
        return nano_review(pairs, skippable=self._app.settings.raw_messages, operation="message")

    def _sign_v0(self, body: bytes) -> bytes:
        self._session = None
        if not self._app.settings.blind_signing:
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
        # ui_typed_message_review_choice_v0: the status is a message's all the same.
        if not self._app.screen.review(pages, None if self._app.touch else MESSAGE_STATUS):
            raise ApduError(SW_REJECTED, "typed message rejected")
        return self._app.sign(path, keccak(b"\x19\x01" + domain_hash + message_hash))
