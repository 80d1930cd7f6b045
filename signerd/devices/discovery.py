"""Finding devices: Trezor and Ledger on USB, and emulators answering on their default ports.

``USB_IDS`` is the one table of vendor/product ids; the udev rules in ``udev/`` grant
access to the same ids (a test keeps them equal).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import asdict, dataclass
from typing import Any

from signerd.devices import open_signer
from signerd.errors import DeviceNotFound, SignerdError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class UsbId:
    vendor: int
    product: int | None  # None: every product of the vendor
    family: str
    description: str


USB_IDS: tuple[UsbId, ...] = (
    UsbId(0x534C, 0x0001, "trezor", "Trezor One (HID)"),
    UsbId(0x1209, 0x53C0, "trezor", "Trezor T / Safe bootloader"),
    UsbId(0x1209, 0x53C1, "trezor", "Trezor T / Safe 3 / Safe 5"),
    UsbId(0x2C97, None, "ledger", "Ledger Nano S / S Plus / X, Stax, Flex"),
)

# Emulators on their default ports: trezor-emu-core (UDP) and Speculos' APDU port (TCP).
EMULATOR_PATHS: tuple[str, ...] = ("udp:127.0.0.1:21324", "tcp:127.0.0.1:9999")


@dataclass(frozen=True)
class FoundDevice:
    family: str
    path: str
    model: str | None
    shows_typed_data_fields: bool | None  # None: could not ask the device
    emulator: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def discover(*, emulators: bool = True) -> list[FoundDevice]:
    """Every device signerd could use right now, each asked for its model.

    Asking means opening each device briefly; Speculos serves one APDU client at a time, so
    this displaces another client of it (signerd reconnects on its next operation).
    """
    candidates = [(path, False) for path in _trezor_usb_paths() + _ledger_usb_paths()]
    if emulators:
        for path in EMULATOR_PATHS:
            answers = _udp_answers if path.startswith("udp:") else _tcp_answers
            if answers(path):
                candidates.append((path, True))
    return [_describe(path, emulator) for path, emulator in candidates]


def resolve_device(path: str) -> str:
    """``auto`` becomes the path of the only device found; any other path is kept."""
    if path != "auto":
        return path
    found = [d for d in discover() if d.error is None]
    if len(found) == 1:
        return found[0].path
    if not found:
        raise DeviceNotFound(
            "no device found: plug in a Trezor or a Ledger (with the Ethereum app open), "
            "check the udev rules (udev/README.md), or start an emulator "
            "(signerd-emulator trezor|ledger)"
        )
    listing = ", ".join(f"{d.path} ({d.family} {d.model})" for d in found)
    raise DeviceNotFound(f"several devices found, choose one with --device: {listing}")


def _describe(path: str, emulator: bool) -> FoundDevice:
    family = "ledger" if path.startswith(("tcp:", "ledger")) else "trezor"
    try:
        with open_signer(path) as signer:
            info = signer.info
    except SignerdError as exc:
        hint = "" if emulator else " (udev rules installed? see udev/README.md)"
        return FoundDevice(family, path, None, None, emulator, f"{exc}{hint}")
    return FoundDevice(family, info.path, info.model, info.shows_typed_data_fields, emulator)


def _trezor_usb_paths() -> list[str]:
    from trezorlib.transport.hid import HidTransport
    from trezorlib.transport.webusb import WebUsbTransport

    paths: list[str] = []
    for transport_class in (WebUsbTransport, HidTransport):
        try:
            paths += [t.get_path() for t in transport_class.enumerate()]
        except Exception as exc:  # no libusb / hidapi backend on this machine
            LOG.debug("%s enumeration failed: %s", transport_class.__name__, exc)
    return paths


def _ledger_usb_paths() -> list[str]:
    from signerd.devices.ledger import enumerate_hid

    try:
        records = enumerate_hid()
    except Exception as exc:  # no hidapi backend
        LOG.debug("Ledger HID enumeration failed: %s", exc)
        return []
    return [f"ledger:hid:{record['path'].decode()}" for record in records]


def _udp_answers(path: str) -> bool:
    host, port = path.split(":")[1:]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.connect((host, int(port)))
            sock.sendall(b"PINGPING")
            return sock.recv(8) == b"PONGPONG"
        except OSError:
            return False


def _tcp_answers(path: str) -> bool:
    host, port = path.split(":")[1:]
    try:
        with socket.create_connection((host, int(port)), timeout=0.2):
            return True
    except OSError:
        return False
