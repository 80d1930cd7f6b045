"""Device adapters behind one Signer interface, chosen by the transport path's prefix.

Trezor paths are trezorlib's (``udp:127.0.0.1:21324``, ``webusb:001:2``, ``hid:…``,
``bridge:…``, or ``trezor:usb`` for the first one found); Ledger paths are ``tcp:HOST:PORT``
(Speculos' APDU port) and ``ledger:hid[:HIDPATH]``.
"""

from __future__ import annotations

from signerd.devices.base import DEFAULT_DERIVATION_PATH, DeviceInfo, Notify, Signer
from signerd.errors import DeviceNotFound

TREZOR_PREFIXES = ("udp:", "webusb:", "hid:", "bridge:", "trezor")
LEDGER_PREFIXES = ("tcp:", "ledger")


def family_of(path: str) -> str:
    """ "trezor" or "ledger" for a device path; DeviceNotFound for an unknown prefix."""
    if path.startswith(TREZOR_PREFIXES):
        return "trezor"
    if path.startswith(LEDGER_PREFIXES):
        return "ledger"
    raise DeviceNotFound(
        f"unknown device path {path!r}: expected udp:, webusb:, hid:, bridge:, trezor:usb "
        "(Trezor) or tcp:HOST:PORT, ledger:hid (Ledger)"
    )


def open_signer(path: str, *, allow_blind_signing: bool = False) -> Signer:
    """Connect to the device at ``path``."""
    if family_of(path) == "trezor":
        from signerd.devices.trezor import TrezorSigner

        return TrezorSigner(path, allow_blind_signing=allow_blind_signing)
    from signerd.devices.ledger import LedgerSigner

    return LedgerSigner(path, allow_blind_signing=allow_blind_signing)


__all__ = ["DEFAULT_DERIVATION_PATH", "DeviceInfo", "Notify", "Signer", "family_of", "open_signer"]
