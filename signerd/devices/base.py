"""The Signer contract every device family implements, and the records it returns.

The contract (every family, the FakeSigner of the tests included):

Connection. Constructing a Signer does no I/O: a path with nothing behind it is accepted,
and only a malformed path is refused (ValidationError, or DeviceNotFound for an unknown
prefix). The first operation opens the link; a link that breaks is dropped, and the next
operation opens it again, so an unplugged device or a restarted emulator is picked up
without a new Signer. ``close()`` drops the link; the Signer stays usable.

One operation at a time. ``info``, ``get_address``, ``sign_typed_data`` and ``sign_message``
run in the caller's thread and block until the device (or the person) answers; they are
called from one thread, one at a time (the daemon's device worker). From any other thread
only ``cancel()``, ``is_alive()`` and ``close()`` may be called.

Cancel. ``cancel()`` aborts the operation now running: that operation raises ``Cancelled``
within a few seconds, whatever the family, and the Signer is usable again for the next
operation. A cancel while no operation runs does nothing (it cannot abort a later one).
Where the device has no way to withdraw a review (a Ledger), the review stays on its screen
until the person answers it; the answer is discarded. ``close()`` from another thread also
breaks a blocked operation, which then raises ``DeviceUnavailable``.

``info`` is asked once per connection and cached; it is asked again after the link was
dropped (the device may have been swapped or updated meanwhile).

What each error means when a Signer raises it (classes of signerd/errors.py):
  DeviceUnavailable    the link is gone or never came up: nothing at the path, unplugged,
                       emulator stopped, or the link closed by ``close()``. Retry later.
  DeviceBusy           another program (or another client of the emulator) holds the device.
  DeviceLocked         the device needs its PIN or passphrase, or the Ethereum app opened.
  UserRejected         the PERSON refused on the device.
  BlindSigningRefused  the device could show only hashes and blind signing was not allowed
                       when the Signer was opened; the device was not asked to sign.
  Cancelled            the operation was aborted by ``cancel()`` from the host.
  ApprovalTimeout      the person did not answer within the Signer's own bound, where it
                       has one (a Ledger's 300 s; the daemon's worker cancels sooner).
  ValidationError      the request cannot be sent to this device (path, typed data).
  DeviceError          anything else the device or its link did wrong (malformed reply,
                       refusal of the data, a signature that does not recover).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

from signerd.errors import Cancelled

DEFAULT_DERIVATION_PATH = "m/44'/60'/0'/0/0"

Notify = Callable[[str], None]
"""Called with a line for the person (e.g. "Confirm on your device", or hashes to compare)."""


@dataclass(frozen=True)
class DeviceInfo:
    family: str  # "trezor" | "ledger"
    model: str  # e.g. "Safe 3", "T", "One", "Nano S Plus", "Stax"
    path: str  # transport path the device was opened with, e.g. "udp:127.0.0.1:21324"
    firmware: str  # firmware (Trezor) or Ethereum app (Ledger) version, "x.y.z"
    shows_typed_data_fields: bool  # False: the device can only sign EIP-712 hashes here
    label: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Signer(ABC):
    """A hardware wallet (or emulator) that signs with keys it never reveals (contract above)."""

    @property
    @abstractmethod
    def info(self) -> DeviceInfo:
        """What the device is; connects if needed, then cached for the connection."""

    @abstractmethod
    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        """The checksummed Ethereum address at the BIP-32 path (no approval needed)."""

    @abstractmethod
    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        """Sign EIP-712 typed data shown field by field; 65 bytes r || s || v (v = 27/28).

        Equal to eth-account's signature of the same data with the key at ``path``. Raises
        BlindSigningRefused when the device could only sign the hashes and blind signing was
        not allowed when the signer was opened.
        """

    @abstractmethod
    def sign_message(
        self, message: bytes, path: str = DEFAULT_DERIVATION_PATH, *, notify: Notify | None = None
    ) -> bytes:
        """Sign an EIP-191 personal message; 65 bytes r || s || v (v = 27/28)."""

    def is_alive(self) -> bool:
        """Whether the device still answers; asked from another thread during an operation.

        Links that report a vanished device by themselves (USB, TCP) keep this default.
        """
        return True

    @abstractmethod
    def cancel(self) -> None:
        """Abort the running operation, which then raises Cancelled (thread-safe)."""

    @abstractmethod
    def close(self) -> None:
        """Drop the link (thread-safe); a blocked operation raises DeviceUnavailable."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class OperationGate:
    """One operation at a time, and whether ``cancel()`` was called during it.

    Shared by the signers so that cancel means the same on every family: a request that
    arrives while no operation runs is dropped, so a late cancel cannot abort the next one.
    """

    def __init__(self) -> None:
        self._one_at_a_time = threading.Lock()
        self._state = threading.Lock()
        self._running = False
        self._cancelled = False

    @contextmanager
    def operation(self) -> Iterator[None]:
        """The span of one operation (not re-entrant)."""
        with self._one_at_a_time:
            with self._state:
                self._running, self._cancelled = True, False
            try:
                yield
            finally:
                with self._state:
                    self._running, self._cancelled = False, False

    def cancel(self) -> bool:
        """Mark the running operation cancelled; False, marking nothing, if none runs."""
        with self._state:
            self._cancelled = self._running
            return self._running

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def check(self) -> None:
        """Raise Cancelled if the running operation was cancelled."""
        if self._cancelled:
            raise Cancelled("cancelled by the host before the person answered")
