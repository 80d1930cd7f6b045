"""The Model T's address flow: the address with its info button, its details, the mismatch.

As the firmware's bolt `show_address` (core/src/trezor/ui/layouts/bolt/__init__.py) for
EthereumGetAddress(show_display=True) (core/src/apps/ethereum/get_address.py): the address
screen (confirm_address: a Frame titled "Receive address" with a corner info button; bolt
does not show get_address.py's "ETH address" subtitle) loops until confirmed. Its info button
opens the address details (show_address_details: a horizontal SimplePage over AddressDetails,
a QR code page and an account/derivation-path page, each a Frame with a corner cancel button
that goes back); its cancel opens show_mismatch, whose back button returns to the address and
whose "Quit" aborts. Only the first address screen sends a ButtonRequest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from trezorlib import messages

from emulator.trezor import bolt_text as bolt
from emulator.trezor.bolt_text import Paragraph
from emulator.trezor.screen import DetailsPage, Screen, ScreenKind
from emulator.trezor.wire import action_cancelled

BR = messages.ButtonRequestType
HARDENED = 0x80000000
H = HARDENED


def _account_num(address_n: Sequence[int]) -> int | None:
    """paths._get_account_num over apps/ethereum/keychain.py PATTERNS_ADDRESS, in order."""
    n = list(address_n)
    if len(n) < 3:
        return None
    if n[0] == 45 | H and len(n) == 5 and not n[1] & H:
        if n[2] <= 100 and n[3] in (0, 1) and n[4] <= 1_000_000:
            return n[2] + 1  # m/45'/coin_type/account/change/address_index (Casa)
        return None
    if n[0] == 44 | H and n[1] & H:
        if len(n) == 5 and n[2] == H and n[3] == 0 and n[4] <= 100:
            return n[4] + 1  # m/44'/coin_type'/0'/0/account
        if len(n) == 5 and H <= n[2] <= H + 100 and n[3] in (0, 1) and n[4] <= 1_000_000:
            return n[2] - H + 1  # m/44'/coin_type'/account'/change/address_index
        if len(n) == 3 and H <= n[2] <= H + 100:
            return n[2] - H + 1  # m/44'/coin_type'/account'
        if len(n) == 4 and n[2] == H and n[3] <= 100:
            return n[3] + 1  # m/44'/coin_type'/0'/account
    return None


class AddressDevice(Protocol):
    def show(self, screen: Screen, *, button_request: bool = True) -> messages.DebugButton: ...


def account_name(address_n: Sequence[int]) -> str | None:
    """paths.get_account_name("ETH", ...): "ETH #n", or None off the address patterns."""
    num = _account_num(address_n)
    return None if num is None else f"ETH #{num}"


def path_str(address_n: Sequence[int]) -> str:
    """paths.address_n_to_str: hardened levels with an apostrophe."""
    items = [str(i & ~HARDENED) + "'" if i & HARDENED else str(i) for i in address_n]
    return "m/" + "/".join(items) if items else "m"


def address_screen(address: str, chunkify: bool) -> Screen:
    """confirm_address(info_button=True): ConfirmValue in a Frame with an info button."""
    shown = "  " + address if chunkify else address  # ethereum/layout.py addr_pad (#6601)
    style = bolt.chunkified_text_style(len(shown)) if chunkify else bolt.TEXT_MONO_DATA
    return Screen(
        "Receive address",
        (address,),
        "show_address",
        BR.Address,
        # ConfirmValueParams: an empty description and extra, then the value.
        paragraphs=(Paragraph(shown, style),),
        info_button=True,
        more_label="Info",
    )


def details_screen(address: str, address_n: Sequence[int]) -> Screen:
    """show_address_details: QR code ("Receive address"), then account and derivation path
    ("Receiving to"); no xpubs for Ethereum."""
    paragraphs: list[Paragraph] = []
    account = account_name(address_n)
    if account is not None:
        paragraphs += [
            Paragraph("Account:", bolt.TEXT_NORMAL),
            Paragraph(account, bolt.TEXT_MONO_DATA),
        ]
    path = path_str(address_n)
    paragraphs += [
        Paragraph("Derivation path:", bolt.TEXT_NORMAL),
        Paragraph(path, bolt.TEXT_MONO_DATA),
    ]
    lines = (address, *(f"Account: {account}",) * (account is not None), f"Derivation path: {path}")
    return Screen(
        "Receive address",
        lines,
        "show_address_details",
        kind=ScreenKind.DETAILS,
        confirm_label="Close",
        details=(
            DetailsPage("Receive address", qr=address),
            DetailsPage("Receiving to", paragraphs=tuple(paragraphs)),
        ),
    )


def mismatch_screen() -> Screen:
    """show_mismatch: an IconDialog; back returns to the address, "Quit" aborts."""
    return Screen(
        "Address mismatch?",
        ("Please contact Trezor support at", "trezor.io/support"),
        "show_mismatch",
        kind=ScreenKind.MISMATCH,
        confirm_label="Quit",
        # TEXT_DEMIBOLD title and url, TEXT_NORMAL description, all centred; the simulator
        # lays them out in TT Hoves Regular, which breaks these short lines the same way.
        paragraphs=(
            Paragraph("Address mismatch?", bolt.TEXT_NORMAL),
            Paragraph("Please contact Trezor support at", bolt.TEXT_NORMAL),
            Paragraph("trezor.io/support", bolt.TEXT_NORMAL),
        ),
    )


def show_address(
    device: AddressDevice, address: str, address_n: Sequence[int], chunkify: bool
) -> None:
    """The firmware's loop: confirm returns, info shows details, cancel shows the mismatch."""
    screen = address_screen(address, chunkify)
    details = details_screen(address, address_n)
    button_request = True
    while True:
        button = device.show(screen, button_request=button_request)
        button_request = False
        if button == messages.DebugButton.YES:
            return
        if button == messages.DebugButton.INFO:
            # The details end only in CANCELLED: the firmware asserts so (a FirmwareError).
            if device.show(details, button_request=False) != messages.DebugButton.NO:
                raise AssertionError("address details ended other than by cancel")
            continue
        if device.show(mismatch_screen(), button_request=False) == messages.DebugButton.YES:
            raise action_cancelled()
