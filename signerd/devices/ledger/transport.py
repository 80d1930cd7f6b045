"""The two links to a Ledger: Speculos' APDU socket (TCP) and USB HID with Ledger's framing.

ledgercomm's transports have no timeouts, cannot pick a HID path, and read a closed TCP
socket as status word 0, so these two small ones are written here. Both answer
``exchange(apdu, timeout) -> (data, status word)`` and raise LinkClosed when ``close()``
from another thread broke a blocked exchange.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Protocol

from signerd.devices.registry import DevicePath, locate
from signerd.errors import DeviceError, DeviceUnavailable

LEDGER_VENDOR_ID = 0x2C97

# USB product id (high byte on current firmware, whole id on old) -> model.
HID_MODELS = {0x10: "Nano S", 0x40: "Nano X", 0x50: "Nano S Plus", 0x60: "Stax", 0x70: "Flex"}
HID_LEGACY_MODELS = {
    0x01: "Nano S",
    0x04: "Nano X",
    0x05: "Nano S Plus",
    0x06: "Stax",
    0x07: "Flex",
}


class LinkClosed(Exception):
    """The transport was closed under a blocked exchange (cancel or close)."""


class Transport(Protocol):
    def exchange(self, apdu: bytes, timeout: float) -> tuple[bytes, int]: ...

    def send(self, apdu: bytes, timeout: float) -> None:
        """Send an APDU without waiting for its reply (``receive`` reads it)."""
        ...

    def receive(self, timeout: float) -> tuple[bytes, int]:
        """The next reply, without sending: the late answer to an earlier exchange."""
        ...

    def close(self) -> None: ...


def open_transport(where: DevicePath) -> TcpTransport | HidTransport:
    """Connect to the Ledger at ``where`` (the first one on USB for a bare ``ledger:hid``)."""
    if not where.usb:
        host, port = where.host_port()
        return TcpTransport(host, port)
    return HidTransport(locate(where).target.encode())


class TcpTransport:
    """Speculos' APDU socket (speculos/mcu/apdu.py framing): 4-byte length + APDU; the reply
    is the 4-byte length of the data, the data, and the 2-byte status word."""

    MAX_REPLY = 65536

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0) -> None:
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise DeviceUnavailable(f"nothing answers at {host}:{port} ({exc})") from exc
        self._closed = threading.Event()

    def exchange(self, apdu: bytes, timeout: float) -> tuple[bytes, int]:
        self.send(apdu, timeout)
        return self.receive(timeout)

    def send(self, apdu: bytes, timeout: float) -> None:
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(len(apdu).to_bytes(4, "big") + apdu)
        except OSError as exc:
            if self._closed.is_set():
                raise LinkClosed from exc
            raise DeviceUnavailable(f"connection to the emulator lost ({exc})") from exc

    def receive(self, timeout: float) -> tuple[bytes, int]:
        self._sock.settimeout(timeout)
        try:
            size = int.from_bytes(self._recv(4), "big")
            if size > self.MAX_REPLY:
                raise DeviceError(f"malformed reply from the emulator (length {size})")
            reply = self._recv(size + 2)
        except TimeoutError:
            raise
        except OSError as exc:
            if self._closed.is_set():
                raise LinkClosed from exc
            raise DeviceUnavailable(f"connection to the emulator lost ({exc})") from exc
        return reply[:-2], int.from_bytes(reply[-2:], "big")

    def _recv(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                if self._closed.is_set():
                    raise LinkClosed
                raise DeviceUnavailable("the emulator closed the connection")
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()


class HidTransport:
    """USB HID with Ledger's APDU framing: 64-byte reports, channel 0x0101, tag 0x05,
    a 2-byte sequence number, and a 2-byte length before the first chunk."""

    CHANNEL = 0x0101
    TAG = 0x05
    REPORT = 64

    def __init__(self, hid_path: bytes) -> None:
        import hid  # hidapi; imported here so TCP-only use needs no USB stack

        self.product_id = 0
        for entry in hid.enumerate(LEDGER_VENDOR_ID, 0):
            if entry["path"] == hid_path:
                self.product_id = int(entry["product_id"])
        self._dev = hid.device()
        try:
            self._dev.open_path(hid_path)
        except (OSError, ValueError) as exc:
            raise DeviceUnavailable(f"cannot open Ledger HID device {hid_path!r} ({exc})") from exc
        self._closed = threading.Event()
        self._lock = threading.Lock()

    @property
    def model(self) -> str | None:
        return HID_MODELS.get(self.product_id >> 8) or HID_LEGACY_MODELS.get(self.product_id)

    def exchange(self, apdu: bytes, timeout: float) -> tuple[bytes, int]:
        self.send(apdu, timeout)
        return self.receive(timeout)

    def send(self, apdu: bytes, timeout: float) -> None:
        try:
            for report in frame_hid(apdu, self.CHANNEL, self.TAG, self.REPORT):
                with self._lock:
                    self._dev.write(b"\x00" + report)  # leading 0x00: no report id
        except (OSError, ValueError) as exc:
            if self._closed.is_set():
                raise LinkClosed from exc
            raise DeviceUnavailable(f"Ledger unplugged or unreachable ({exc})") from exc

    def receive(self, timeout: float) -> tuple[bytes, int]:
        try:
            reply = self._read_reply(timeout)
        except (OSError, ValueError) as exc:
            if self._closed.is_set():
                raise LinkClosed from exc
            raise DeviceUnavailable(f"Ledger unplugged or unreachable ({exc})") from exc
        return reply[:-2], int.from_bytes(reply[-2:], "big")

    def _read_reply(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        data = bytearray()
        length: int | None = None
        seq = 0
        while length is None or len(data) < length:
            # Short reads so that close() from another thread interrupts the wait.
            with self._lock:
                if self._closed.is_set():
                    raise LinkClosed
                chunk = bytes(self._dev.read(self.REPORT, 100))
            if not chunk:
                if time.monotonic() > deadline:
                    raise TimeoutError
                continue
            payload = unframe_hid(chunk, self.CHANNEL, self.TAG, seq)
            if seq == 0:
                length = int.from_bytes(payload[:2], "big")
                payload = payload[2:]
            data += payload
            seq += 1
        assert length is not None
        if length < 2:
            raise DeviceError("Ledger reply without a status word")
        return bytes(data[:length])

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._dev.close()


def frame_hid(apdu: bytes, channel: int, tag: int, size: int) -> list[bytes]:
    """Split an APDU into Ledger HID reports (each padded to `size` bytes)."""
    data = len(apdu).to_bytes(2, "big") + apdu
    reports = []
    seq = 0
    while data or seq == 0:
        header = channel.to_bytes(2, "big") + bytes([tag]) + seq.to_bytes(2, "big")
        chunk, data = data[: size - len(header)], data[size - len(header) :]
        reports.append((header + chunk).ljust(size, b"\0"))
        seq += 1
    return reports


def unframe_hid(report: bytes, channel: int, tag: int, seq: int) -> bytes:
    """The payload of one HID report, checking its channel, tag and sequence number."""
    if (
        len(report) < 5
        or int.from_bytes(report[:2], "big") != channel
        or report[2] != tag
        or int.from_bytes(report[3:5], "big") != seq
    ):
        raise DeviceError("malformed HID report from the Ledger")
    return report[5:]


def enumerate_hid() -> list[dict[str, Any]]:
    """Ledger devices on USB: hidapi records of their APDU interface."""
    import hid

    return [
        d
        for d in hid.enumerate(LEDGER_VENDOR_ID, 0)
        if d.get("interface_number") == 0 or d.get("usage_page") == 0xFFA0
    ]
