"""Finding devices: Trezor and Ledger on USB, and (when asked) emulators on their default ports.

``USB_IDS`` is the one table of vendor/product ids; the udev rules in ``udev/`` grant
access to the same ids (a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from signerd.devices.registry import (
    AUTO,
    EMULATOR_PATHS,
    answers,
    find_by_path,
    open_signer,
    usb_paths,
)
from signerd.errors import DeviceNotFound, SignerdError


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


def discover(*, emulators: bool = False) -> list[FoundDevice]:
    """Every device signerd could use right now, each asked for its model.

    ``emulators``: also probe the emulators' default ports. Off by default: any local user
    can bind those ports, so an emulator is used only where a path (or this flag) asks.

    Asking means opening each device briefly; Speculos serves one APDU client at a time, so
    this displaces another client of it (signerd reconnects on its next operation).
    """
    candidates = [(path, False) for path in usb_paths()]
    if emulators:
        candidates += [(path, True) for path in EMULATOR_PATHS if answers(path)]
    return [_describe(path, emulator) for path, emulator in candidates]


def resolve_device(path: str) -> str:
    """``auto`` becomes the path of the only device found on USB; any other path is kept.

    Never an emulator: its port could be anyone's (an emulator needs its udp:/tcp: path).
    """
    if path != AUTO:
        return path
    found = [d for d in discover(emulators=False) if d.error is None]
    if len(found) == 1:
        return found[0].path
    if not found:
        raise DeviceNotFound(
            "no device found: plug in a Trezor or a Ledger (with the Ethereum app open), "
            "check the udev rules (udev/README.md); an emulator is used only by its path "
            "(--device udp:127.0.0.1:21324 or tcp:127.0.0.1:9999)"
        )
    listing = ", ".join(f"{d.path} ({d.family} {d.model})" for d in found)
    raise DeviceNotFound(f"several devices found, choose one with --device: {listing}")


def _describe(path: str, emulator: bool) -> FoundDevice:
    family = find_by_path(path).family
    try:
        with open_signer(path) as signer:
            info = signer.info
    except SignerdError as exc:
        hint = "" if emulator else " (udev rules installed? see udev/README.md)"
        return FoundDevice(family, path, None, None, emulator, f"{exc}{hint}")
    return FoundDevice(family, info.path, info.model, info.shows_typed_data_fields, emulator)
