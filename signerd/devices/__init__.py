"""Device adapters behind one Signer interface (base.py), opened by path (registry.py).

Trezor paths are trezorlib's (``udp:127.0.0.1:21324``, ``webusb:001:2``, ``hid:…``,
``bridge:…``, or ``trezor:usb`` for the first one on USB); Ledger paths are ``tcp:HOST:PORT``
(Speculos' APDU port) and ``ledger:hid[:HIDPATH]``. registry.py is the one place that parses
them.
"""

from __future__ import annotations

from signerd.devices.base import DEFAULT_DERIVATION_PATH, DeviceInfo, Notify, Signer
from signerd.devices.registry import open_signer

__all__ = ["DEFAULT_DERIVATION_PATH", "DeviceInfo", "Notify", "Signer", "open_signer"]
