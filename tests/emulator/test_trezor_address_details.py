"""The Model T's address details, walked with trezorlib's DebugLink as the firmware's tests do.

EthereumGetAddress(show_display=True, chunkify=True) shows the address with a corner info
button; that button opens the details (a QR code page, then the account and derivation path),
swipes turn their pages, their corner button goes back; cancelling the address asks
"Address mismatch?", whose back button returns and whose "Quit" aborts (trezor-firmware
core/src/trezor/ui/layouts/bolt/__init__.py show_address, tests/input_flows.py
InputFlowShowAddressQRCode). The same walk runs on the real trezor-emu-core when
$SIGNERD_TREZOR_EMU is set, which checks these expectations against the firmware.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from trezorlib import ethereum, messages
from trezorlib.debuglink import DebugLink, LayoutContent, LayoutType, ScreenButtons
from trezorlib.tools import parse_path

from emulator.trezor.launch import UdpTrezorProcess
from signerd.devices.trezor import TrezorSigner
from signerd.errors import UserRejected
from signerd.launch import wait_until

ACCOUNT = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"  # m/44'/60'/0'/0/0 of DEFAULT_MNEMONIC
PATH = "m/44'/60'/0'/0/0"
STEP_TIMEOUT = 10.0
# The corner button of a Model T Frame (trezorlib's ScreenButtons, as input_flows.py uses it).
MENU = ScreenButtons(LayoutType.Bolt).menu()


def wait_for(link: DebugLink, check: Callable[[LayoutContent], bool], what: str) -> LayoutContent:
    """The layout once `check` holds (the firmware's synchronize_at, with any predicate)."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        layout = link.read_layout(wait=False)
        if check(layout):
            return layout
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what}; the screen: {layout.json_str}")
        time.sleep(0.05)


def on_address(layout: LayoutContent) -> bool:
    return "ButtonPage" in layout.all_components() and layout.title() == "Receive address"


def details_page(page: int) -> Callable[[LayoutContent], bool]:
    def check(layout: LayoutContent) -> bool:
        return layout.main_component() == "SimplePage" and layout.active_page() == page

    return check


def on_mismatch(layout: LayoutContent) -> bool:
    return "Address mismatch?" in layout.json_str


class AddressOnDevice:
    """get_address(show_display=True, chunkify=True) running while the test presses."""

    def __init__(self, device: UdpTrezorProcess) -> None:
        # The link an earlier test closed may still be settling on the device side.
        wait_until(device.is_ready, 10.0, what=f"the {device.name}")
        self.signer = TrezorSigner(device.path)
        self.requests: list[messages.ButtonRequest] = []
        self.result: list[Any] = []
        original = self.signer._on_button

        def on_button(request: messages.ButtonRequest) -> None:
            self.requests.append(request)
            original(request)

        self.signer._on_button = on_button  # type: ignore[method-assign]
        self.worker = threading.Thread(target=self._run, name="address-details")

    def _run(self) -> None:
        address_n = parse_path(PATH)
        try:
            self.result.append(
                self.signer._run(
                    lambda s: ethereum.get_address(s, address_n, show_display=True, chunkify=True),
                    None,
                )
            )
        except BaseException as exc:
            self.result.append(exc)

    def __enter__(self) -> AddressOnDevice:
        self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.join(timeout=5)
        if self.worker.is_alive():  # the test failed mid-walk: end the operation
            self.signer.cancel()
            self.worker.join(timeout=30)
        self.signer.close()


def test_address_details_pages_and_back(model_t: UdpTrezorProcess) -> None:
    with AddressOnDevice(model_t) as op, model_t.debuglink() as link:
        address = wait_for(link, on_address, "address screen")
        assert address.find_unique_value_by_key("button", {}) == {
            "component": "Button",
            "icon": True,
        }
        # chunkify: groups of four, "0x" padded to a group of its own (ethereum addr_pad).
        assert address.screen_content().split("\n") == [
            "  0x9858EfFD232B",
            "4033E47d90003D41",
            "EC34EcaEda94",
        ]

        link.click(MENU)
        qr = wait_for(link, details_page(0), "QR code page")
        assert qr.page_count() == 2
        assert qr.title() == "Receive address"
        assert qr.find_unique_object_with_key_and_value("component", "Qr") == {
            "component": "Qr",
            "text": ACCOUNT,
        }

        link.swipe_left()
        details = wait_for(link, details_page(1), "account page")
        assert details.title() == "Receiving to"
        assert details.screen_content().split("\n") == [
            "Account:",
            "ETH #1",
            "Derivation path:",
            PATH,
        ]
        link.swipe_right()
        wait_for(link, details_page(0), "QR code page again")
        link.swipe_left()
        wait_for(link, details_page(1), "account page again")

        link.click(MENU)
        wait_for(link, on_address, "address screen after the details")
        link.press_no()
        mismatch = wait_for(link, on_mismatch, "mismatch screen")
        assert mismatch.main_component() == "IconDialog"
        assert mismatch.screen_content().split("\n") == [
            "Address mismatch?",
            "Please contact Trezor",
            "support at",
            "trezor.io/support",
        ]
        quit_button = mismatch.find_unique_object_with_key_and_value("text", "Quit")
        assert quit_button == {"component": "Button", "text": "Quit"}
        link.press_no()
        wait_for(link, on_address, "address screen after the mismatch")
        link.press_yes()
    assert op.result == [ACCOUNT]
    # Only the first address screen asks the host; the rest is the device's own.
    assert [(r.code, r.name) for r in op.requests] == [
        (messages.ButtonRequestType.Address, "show_address")
    ]


def test_address_mismatch_quit_rejects(model_t: UdpTrezorProcess) -> None:
    with AddressOnDevice(model_t) as op, model_t.debuglink() as link:
        wait_for(link, on_address, "address screen")
        link.press_no()
        wait_for(link, on_mismatch, "mismatch screen")
        link.press_yes()  # "Quit"
    assert len(op.result) == 1 and isinstance(op.result[0], UserRejected)
