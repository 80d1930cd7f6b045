"""The one interface every device family implements, and the records it returns.

A Signer is synchronous and handles one operation at a time; the daemon runs it in a
worker thread. Only ``cancel()`` may be called from another thread, to abort an operation
that waits for the person.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Self

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
    """A connected hardware wallet (or emulator) that signs with keys it never reveals."""

    @property
    @abstractmethod
    def info(self) -> DeviceInfo: ...

    @abstractmethod
    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        """The checksummed Ethereum address at the BIP-32 path."""

    @abstractmethod
    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        """Sign EIP-712 typed data shown field by field; 65 bytes r || s || v (v = 27/28).

        Raises BlindSigningRefused when the device could only sign the hashes and blind
        signing was not allowed when the signer was opened.
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
        """Abort the operation waiting on the device (thread-safe, best effort)."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
