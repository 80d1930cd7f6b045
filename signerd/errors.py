"""The small exception hierarchy every layer of signerd raises and callers act on.

Device adapters translate vendor errors (trezorlib exceptions, Ledger status words) into
these; the RPC layer maps each class to one stable JSON-RPC error code.
"""

from __future__ import annotations


class SignerdError(Exception):
    """Base class of all signerd errors."""


class ValidationError(SignerdError, ValueError):
    """A request or grant field is malformed.

    ``field`` names it as a dotted path, e.g. ``allowances.0.amount``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DeviceError(SignerdError):
    """A device failed in a way not covered by a more specific class."""


class DeviceUnavailable(DeviceError):
    """No device answers at the path: not connected, unplugged, or the emulator is not running."""


class DeviceNotFound(DeviceUnavailable):
    """Nothing was found at the requested path when opening it."""


class DeviceBusy(DeviceError):
    """The device is in use by another program or another operation."""


class DeviceLocked(DeviceError):
    """The device needs its PIN or passphrase entered (or the right app opened) first."""


class UserRejected(DeviceError):
    """The person rejected the request on the device."""


class BlindSigningRefused(DeviceError):
    """The device can only sign hashes here and blind signing was not explicitly allowed."""


class ApprovalTimeout(SignerdError):
    """The person did not answer on the device in time; the request was cancelled on the device."""


class PolicyRefused(SignerdError):
    """The request exceeds a configured ceiling; it never reached the device."""


class TooManyPending(SignerdError):
    """This peer already has the maximum number of requests waiting for the device."""


class GrantNotFound(SignerdError):
    """No grant with that id is stored."""


class GrantRevoked(SignerdError):
    """The grant was revoked."""


class GrantExpired(SignerdError):
    """The grant's validity window has ended."""
