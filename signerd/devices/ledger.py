"""Ledger (Nano S Plus / X, Stax, Flex) with the Ethereum app, over USB HID or Speculos TCP.

The APDUs are those of LedgerHQ/app-ethereum doc/ethapp.adoc (CLA 0xE0), cross-checked with
the app's own Python client (client/src/ledger_app_clients/ethereum: command_builder.py,
eip712/InputData.py). That client pulls in ragger, speculos and web3, too much for a
daemon, and ledgercomm's transports have no timeouts, cannot pick a HID path, and read a
closed TCP socket as status word 0; so the two small transports below are written here.

Paths:
  tcp:HOST:PORT                Speculos' APDU port (4-byte length + APDU; reply: 4-byte
                               length of the data, data, 2-byte status word)
  ledger:hid                   the first Ledger on USB (vendor 0x2c97)
  ledger:hid:<hidapi path>     that HID device
A "?model=stax" suffix tells the signer the model where the transport cannot (Speculos).

EIP-712 is signed in full mode (P2=0x01): the app hashes the values itself and shows them.
A Nano shows the fields only with the app setting "Raw messages" on; with "Raw messages"
and "Blind signing" both off it refuses (0x6A80, "Blind signing must be enabled in
Settings"), and with only "Blind signing" on it would show just a hash. GET APP
CONFIGURATION reports "Blind signing" (flag 0x01) but not "Raw messages", so on a Nano (or
an unknown model) with "Blind signing" on, the signer cannot know the fields will be shown:
it then refuses unless opened with allow_blind_signing, in which case it signs in the v0
hashed mode and tells the person, through notify, the hashes to compare on the screen.

cancel() closes the transport so that a blocked exchange fails at once. Ledger has no
cancel APDU: the device (or Speculos) keeps its review on screen until the person answers.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs

from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from signerd.devices.base import DEFAULT_DERIVATION_PATH, DeviceInfo, Notify, Signer
from signerd.errors import (
    ApprovalTimeout,
    BlindSigningRefused,
    DeviceError,
    DeviceLocked,
    DeviceNotFound,
    DeviceUnavailable,
    UserRejected,
    ValidationError,
)

log = logging.getLogger(__name__)

LEDGER_VENDOR_ID = 0x2C97
DEFAULT_TIMEOUT = 300.0  # seconds the person has to answer a review
IO_TIMEOUT = 10.0  # seconds for an APDU that needs no answer from the person

CLA = 0xE0
INS_GET_PUBLIC_ADDRESS = 0x02
INS_GET_APP_CONFIGURATION = 0x06
INS_SIGN_PERSONAL_MESSAGE = 0x08
INS_SIGN_EIP712 = 0x0C
INS_EIP712_STRUCT_DEF = 0x1A
INS_EIP712_STRUCT_IMPL = 0x1C

SW_OK = 0x9000
SW_REJECTED = 0x6985
SW_INVALID_DATA = 0x6A80
SW_LOCKED = (0x5515, 0x6982)
SW_APP_NOT_OPEN = (0x6E00, 0x6E01, 0x6D00, 0x6511, 0x6D02)
APP_FLAG_DATA_ALLOWED = 0x01

TOUCH_MODELS = ("Stax", "Flex")
MODEL_NAMES = {
    "nanos": "Nano S",
    "nanosp": "Nano S Plus",
    "nanox": "Nano X",
    "stax": "Stax",
    "flex": "Flex",
}
# USB product id (high byte on current firmware, whole id on old) -> model.
HID_MODELS = {0x10: "Nano S", 0x40: "Nano X", 0x50: "Nano S Plus", 0x60: "Stax", 0x70: "Flex"}
HID_LEGACY_MODELS = {
    0x01: "Nano S",
    0x04: "Nano X",
    0x05: "Nano S Plus",
    0x06: "Stax",
    0x07: "Flex",
}

RAW_MESSAGES_HELP = (
    'Turn on "Raw messages" in the Ethereum app\'s settings on the Ledger '
    "(Settings > Raw messages, also called verbose EIP-712) so that it shows every field"
)


class _Closed(Exception):
    """The transport was closed under a blocked exchange (cancel or close)."""


class Transport(Protocol):
    def exchange(self, apdu: bytes, timeout: float) -> tuple[bytes, int]: ...

    def close(self) -> None: ...


class TcpTransport:
    """Speculos' APDU socket (speculos/mcu/apdu.py framing)."""

    MAX_REPLY = 65536

    def __init__(self, host: str, port: int, connect_timeout: float = 5.0) -> None:
        try:
            self._sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise DeviceUnavailable(f"nothing answers at tcp:{host}:{port} ({exc})") from exc
        self._closed = threading.Event()

    def exchange(self, apdu: bytes, timeout: float) -> tuple[bytes, int]:
        self._sock.settimeout(timeout)
        try:
            self._sock.sendall(len(apdu).to_bytes(4, "big") + apdu)
            size = int.from_bytes(self._recv(4), "big")
            if size > self.MAX_REPLY:
                raise DeviceError(f"malformed reply from the emulator (length {size})")
            reply = self._recv(size + 2)
        except TimeoutError:
            raise
        except OSError as exc:
            if self._closed.is_set():
                raise _Closed from exc
            raise DeviceUnavailable(f"connection to the emulator lost ({exc})") from exc
        return reply[:-2], int.from_bytes(reply[-2:], "big")

    def _recv(self, size: int) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                if self._closed.is_set():
                    raise _Closed
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

    def __init__(self, hid_path: bytes | None) -> None:
        import hid  # hidapi; imported here so TCP-only use needs no USB stack

        if hid_path is None:
            found = enumerate_hid()
            if not found:
                raise DeviceNotFound("no Ledger on USB (is it plugged in and unlocked?)")
            hid_path = found[0]["path"]
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
        try:
            for report in frame_hid(apdu, self.CHANNEL, self.TAG, self.REPORT):
                with self._lock:
                    self._dev.write(b"\x00" + report)  # leading 0x00: no report id
            reply = self._read_reply(timeout)
        except (OSError, ValueError) as exc:
            if self._closed.is_set():
                raise _Closed from exc
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
                    raise _Closed
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


def parse_bip32_path(path: str) -> list[int]:
    parts = path.split("/")
    if not parts or parts[0] != "m" or len(parts) < 2 or len(parts) > 11:
        raise ValidationError("path", f"not a BIP-32 path of 1 to 10 levels: {path!r}")
    out = []
    for part in parts[1:]:
        hardened = part.endswith(("'", "h", "H"))
        digits = part[:-1] if hardened else part
        if not digits.isdigit() or int(digits) >= 0x80000000:
            raise ValidationError("path", f"bad BIP-32 level {part!r}")
        out.append(int(digits) | (0x80000000 if hardened else 0))
    return out


def pack_bip32(path: str) -> bytes:
    indices = parse_bip32_path(path)
    return bytes([len(indices)]) + b"".join(i.to_bytes(4, "big") for i in indices)


def apdu(ins: int, p1: int, p2: int, data: bytes = b"") -> bytes:
    if len(data) > 255:
        raise ValidationError("typed_data", "a value or name is too long for one APDU")
    return bytes([CLA, ins, p1, p2, len(data)]) + data


# -- EIP-712 encoding (ethapp.adoc "EIP712 SEND STRUCT DEFINITION / IMPLEMENTATION") ------

_TYPE_CODES = {"int": 1, "uint": 2, "address": 3, "bool": 4, "string": 5, "bytes": 6}


@dataclass(frozen=True)
class _FieldType:
    base: str  # "uint", "bytes", "address", ... or a struct name
    code: int  # TypeDesc low nibble; 0 = struct, 7 = dynamic bytes
    size: int | None  # bytes
    levels: tuple[int | None, ...]


def _parse_type(type_name: str, structs: dict[str, Any]) -> _FieldType:
    levels: list[int | None] = []
    base = type_name
    while base.endswith("]"):
        base, _, inner = base[:-1].rpartition("[")
        levels.insert(0, int(inner) if inner else None)
    if base in structs:
        return _FieldType(base, 0, None, tuple(levels))
    stem = base.rstrip("0123456789")
    digits = base[len(stem) :]
    if stem not in _TYPE_CODES:
        raise ValidationError("typed_data.types", f"unknown type {type_name!r}")
    if stem in ("int", "uint"):
        bits = int(digits or "256")
        if bits % 8 or not 8 <= bits <= 256:
            raise ValidationError("typed_data.types", f"bad integer type {type_name!r}")
        return _FieldType(stem, _TYPE_CODES[stem], bits // 8, tuple(levels))
    if stem == "bytes":
        if not digits:
            return _FieldType("bytes", 7, None, tuple(levels))
        return _FieldType("bytes", 6, int(digits), tuple(levels))
    if digits:
        raise ValidationError("typed_data.types", f"unknown type {type_name!r}")
    return _FieldType(stem, _TYPE_CODES[stem], None, tuple(levels))


def _field_definition(name: str, ftype: _FieldType) -> bytes:
    desc = ftype.code | (0x80 if ftype.levels else 0) | (0x40 if ftype.size is not None else 0)
    out = bytearray([desc])
    if ftype.code == 0:
        out += bytes([len(ftype.base)]) + ftype.base.encode()
    if ftype.size is not None:
        out.append(ftype.size)
    if ftype.levels:
        out.append(len(ftype.levels))
        for level in ftype.levels:
            out += b"\x00" if level is None else bytes([1, level])
    out += bytes([len(name)]) + name.encode()
    return bytes(out)


def _hex_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            pass
    raise ValidationError(where, "expected 0x-prefixed hex")


def _encode_value(ftype: _FieldType, value: Any, where: str) -> bytes:
    """The raw value the app expects (InputData.py's encode_*)."""
    if ftype.base in ("int", "uint"):
        if isinstance(value, bool):
            raise ValidationError(where, "expected an integer")
        try:
            number = int(value, 0) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise ValidationError(where, "expected an integer") from None
        assert ftype.size is not None
        bits = ftype.size * 8
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if ftype.base == "int" else (0, 1 << bits)
        if not low <= number < high:
            raise ValidationError(where, f"out of range for {ftype.base}{bits}")
        raw = (number % (1 << bits)).to_bytes(ftype.size, "big").lstrip(b"\0")
        return raw or b"\0"
    if ftype.base == "address":
        raw = _hex_bytes(value, where)
        if len(raw) != 20:
            raise ValidationError(where, "an address is 20 bytes")
        return raw
    if ftype.base == "bool":
        if not isinstance(value, bool):
            raise ValidationError(where, "expected true or false")
        return b"\x01" if value else b"\x00"
    if ftype.base == "string":
        if not isinstance(value, str):
            raise ValidationError(where, "expected a string")
        return value.encode()
    raw = _hex_bytes(value, where)
    if ftype.size is not None and len(raw) > ftype.size:
        raise ValidationError(where, f"more than {ftype.size} bytes")
    return raw


def _value_apdus(raw: bytes) -> list[bytes]:
    """A value with its 2-byte length, in 255-byte chunks; P1=0x01 on all but the last."""
    if len(raw) > 0xFFFF:
        raise ValidationError("typed_data", "value too long")
    data = len(raw).to_bytes(2, "big") + raw
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return [
        apdu(INS_EIP712_STRUCT_IMPL, 0x00 if n == len(chunks) - 1 else 0x01, 0xFF, chunk)
        for n, chunk in enumerate(chunks)
    ]


def _domain_types(domain: dict[str, Any]) -> list[dict[str, str]]:
    """EIP712Domain's fields from the domain's keys, as eth-account derives them."""
    known = [
        ("name", "string"),
        ("version", "string"),
        ("chainId", "uint256"),
        ("verifyingContract", "address"),
        ("salt", "bytes32"),
    ]
    return [{"name": n, "type": t} for n, t in known if n in domain]


def typed_data_apdus(typed_data: dict[str, Any]) -> tuple[list[bytes], list[bytes]]:
    """(definition APDUs, implementation APDUs) for an EIP-712 document."""
    try:
        types = dict(typed_data["types"])
        domain = typed_data["domain"]
        message = typed_data["message"]
        primary = typed_data["primaryType"]
    except (KeyError, TypeError) as exc:
        raise ValidationError("typed_data", f"missing {exc}") from None
    types.setdefault("EIP712Domain", _domain_types(domain))
    if primary not in types:
        raise ValidationError("typed_data.primaryType", f"{primary!r} is not in types")
    parsed: dict[str, list[tuple[str, _FieldType]]] = {}
    definitions: list[bytes] = []
    for name, fields in types.items():
        definitions.append(apdu(INS_EIP712_STRUCT_DEF, 0x00, 0x00, name.encode()))
        parsed[name] = []
        for f in fields:
            ftype = _parse_type(f["type"], types)
            parsed[name].append((f["name"], ftype))
            definitions.append(
                apdu(INS_EIP712_STRUCT_DEF, 0x00, 0xFF, _field_definition(f["name"], ftype))
            )

    implementation: list[bytes] = []

    def send_struct(struct: str, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ValidationError(where, f"expected a {struct} object")
        for key, ftype in parsed[struct]:
            if key not in value:
                raise ValidationError(f"{where}.{key}", "missing")
            send_field(ftype, len(ftype.levels), value[key], f"{where}.{key}")

    def send_field(ftype: _FieldType, levels_left: int, value: Any, where: str) -> None:
        if levels_left:
            if not isinstance(value, list) or len(value) > 255:
                raise ValidationError(where, "expected an array of at most 255 items")
            # "T[2][]" lists levels inner to outer: the outermost array is the last one.
            fixed = ftype.levels[levels_left - 1]
            if fixed is not None and fixed != len(value):
                raise ValidationError(where, f"expected {fixed} items")
            implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x0F, bytes([len(value)])))
            for i, item in enumerate(value):
                send_field(ftype, levels_left - 1, item, f"{where}.{i}")
        elif ftype.code == 0:
            send_struct(ftype.base, value, where)
        else:
            implementation.extend(_value_apdus(_encode_value(ftype, value, where)))

    implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x00, b"EIP712Domain"))
    send_struct("EIP712Domain", domain, "typed_data.domain")
    implementation.append(apdu(INS_EIP712_STRUCT_IMPL, 0x00, 0x00, primary.encode()))
    send_struct(primary, message, "typed_data.message")
    return definitions, implementation


def parse_path(path: str) -> tuple[str, str | None]:
    """(transport part, model hint) of "tcp:127.0.0.1:9999?model=stax"."""
    base, _, query = path.partition("?")
    hint = parse_qs(query).get("model", [None])[0]
    if hint is not None and hint not in MODEL_NAMES:
        raise ValidationError("path", f"unknown Ledger model {hint!r}")
    return base, MODEL_NAMES[hint] if hint else None


class LedgerSigner(Signer):
    """The Ethereum app on a Ledger, or on Speculos / the simulator."""

    def __init__(
        self, path: str, *, allow_blind_signing: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.path = path
        self.allow_blind_signing = allow_blind_signing
        self.timeout = timeout
        self._base, self._model_hint = parse_path(path)
        if not (self._base.startswith("tcp:") or self._base.startswith("ledger:hid")):
            raise ValidationError("path", f"not a Ledger path: {path!r}")
        self._lock = threading.Lock()
        self._transport: Transport | None = None
        self._info: DeviceInfo | None = None
        self._connect()

    # -- transport -------------------------------------------------------------------------

    def _connect(self) -> Transport:
        with self._lock:
            if self._transport is None:
                if self._base.startswith("tcp:"):
                    host, _, port = self._base[4:].rpartition(":")
                    if not host or not port.isdigit():
                        raise ValidationError("path", f"expected tcp:HOST:PORT, got {self.path!r}")
                    self._transport = TcpTransport(host, int(port))
                else:
                    rest = self._base[len("ledger:hid") :]
                    hid_path = rest[1:].encode() if rest.startswith(":") else None
                    self._transport = HidTransport(hid_path)
            return self._transport

    def _drop(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            with contextlib.suppress(OSError):
                transport.close()

    def _exchange(self, raw: bytes, *, interactive: bool) -> tuple[bytes, int]:
        transport = self._connect()
        timeout = self.timeout if interactive else min(self.timeout, IO_TIMEOUT)
        try:
            return transport.exchange(raw, timeout)
        except _Closed:
            self._drop()
            raise ApprovalTimeout("cancelled before the person answered on the Ledger") from None
        except TimeoutError:
            # The late reply would answer the next APDU: start over on a new connection.
            self._drop()
            if interactive:
                raise ApprovalTimeout(f"no answer on the Ledger within {timeout:.0f}s") from None
            raise DeviceUnavailable(f"the Ledger did not answer within {timeout:.0f}s") from None
        except DeviceError:
            self._drop()
            raise

    def _call(self, raw: bytes, *, interactive: bool = False, what: str = "") -> bytes:
        data, sw = self._exchange(raw, interactive=interactive)
        if sw != SW_OK:
            raise self._status_error(sw, what)
        return data

    def _status_error(self, sw: int, what: str) -> DeviceError:
        """The signerd error for a status word (see the module's mapping in the report)."""
        if sw in SW_LOCKED:
            return DeviceLocked(f"the Ledger is locked: unlock it with its PIN (0x{sw:04X})")
        if sw in SW_APP_NOT_OPEN:
            return DeviceLocked(
                f"open the Ethereum app on the Ledger (it answered 0x{sw:04X}: app not open)"
            )
        if sw == SW_REJECTED:
            return UserRejected(f"rejected on the Ledger{': ' + what if what else ''}")
        if sw == SW_INVALID_DATA:
            return DeviceError(
                f"the Ethereum app refused the data (0x6A80){': ' + what if what else ''}"
            )
        return DeviceError(
            f"the Ethereum app answered status 0x{sw:04X}{': ' + what if what else ''}"
        )

    # -- Signer ----------------------------------------------------------------------------

    def _app_config(self) -> tuple[bool, str]:
        """(blind signing allowed, app version), read from GET APP CONFIGURATION."""
        data = self._call(apdu(INS_GET_APP_CONFIGURATION, 0, 0), what="app configuration")
        if len(data) < 4:
            raise DeviceError("short GET APP CONFIGURATION reply")
        return bool(data[0] & APP_FLAG_DATA_ALLOWED), f"{data[1]}.{data[2]}.{data[3]}"

    def _model(self) -> str | None:
        if self._model_hint:
            return self._model_hint
        transport = self._connect()
        return transport.model if isinstance(transport, HidTransport) else None

    @property
    def info(self) -> DeviceInfo:
        blind, version = self._app_config()
        model = self._model()
        touch = model in TOUCH_MODELS
        self._info = DeviceInfo(
            family="ledger",
            model=model or "unknown",
            path=self.path,
            firmware=version,
            # A Nano with "Blind signing" off shows the fields or refuses; with it on,
            # signerd cannot tell whether the fields would be shown (see the module doc).
            shows_typed_data_fields=touch or not blind,
        )
        return self._info

    def get_address(self, path: str = DEFAULT_DERIVATION_PATH) -> str:
        data = self._call(apdu(INS_GET_PUBLIC_ADDRESS, 0x00, 0x00, pack_bip32(path)))
        try:
            key_len = data[0]
            addr_len = data[1 + key_len]
            address = data[2 + key_len : 2 + key_len + addr_len].decode("ascii")
        except (IndexError, UnicodeDecodeError):
            raise DeviceError("malformed GET ETH PUBLIC ADDRESS reply") from None
        return str(to_checksum_address("0x" + address.removeprefix("0x")))

    def sign_typed_data(
        self,
        typed_data: dict[str, Any],
        path: str = DEFAULT_DERIVATION_PATH,
        *,
        notify: Notify | None = None,
    ) -> bytes:
        definitions, implementation = typed_data_apdus(typed_data)
        try:
            signable = encode_typed_data(full_message=typed_data)
        except Exception as exc:
            raise ValidationError("typed_data", f"not valid EIP-712: {exc}") from exc
        digest = keccak(b"\x19\x01" + signable.header + signable.body)
        bip32 = pack_bip32(path)
        blind, _ = self._app_config()
        model = self._model()
        if model not in TOUCH_MODELS and blind:
            if not self.allow_blind_signing:
                raise BlindSigningRefused(
                    'The Ethereum app has "Blind signing" on: a Nano with "Raw messages" off '
                    "would then show only a hash, and the app does not report that setting. "
                    f'{RAW_MESSAGES_HELP}, and turn "Blind signing" off (or allow blind '
                    "signing in signerd's policy)."
                )
            _tell(
                notify,
                "Blind signing: the Ledger shows only hashes. Sign only if it shows "
                f"domain hash 0x{signable.header.hex()} and message hash "
                f"0x{signable.body.hex()}, then 'Sign message'.",
            )
            vrs = self._call(
                apdu(INS_SIGN_EIP712, 0x00, 0x00, bip32 + signable.header + signable.body),
                interactive=True,
                what="typed data (hashes)",
            )
            return self._finish(vrs, digest, path)
        _tell(notify, "Review every field on the Ledger, then choose 'Sign message' to approve.")
        for raw in definitions:
            self._call(raw, what="EIP-712 struct definition")
        for raw in implementation:
            _, sw = self._exchange(raw, interactive=True)
            if sw == SW_INVALID_DATA and model not in TOUCH_MODELS:
                # A Nano with neither "Raw messages" nor "Blind signing" refuses here and
                # shows "Blind signing must be enabled in Settings".
                raise BlindSigningRefused(
                    f"The Ledger cannot show this message's fields. {RAW_MESSAGES_HELP}, "
                    "then try again."
                )
            if sw != SW_OK:
                raise self._status_error(sw, "typed data")
        vrs = self._call(
            apdu(INS_SIGN_EIP712, 0x00, 0x01, bip32), interactive=True, what="typed data"
        )
        return self._finish(vrs, digest, path)

    def sign_message(
        self, message: bytes, path: str = DEFAULT_DERIVATION_PATH, *, notify: Notify | None = None
    ) -> bytes:
        payload = pack_bip32(path) + len(message).to_bytes(4, "big") + message
        chunks = [payload[i : i + 255] for i in range(0, len(payload), 255)]
        _tell(notify, "Review the message on the Ledger, then choose 'Sign message'.")
        vrs = b""
        for n, chunk in enumerate(chunks):
            vrs = self._call(
                apdu(INS_SIGN_PERSONAL_MESSAGE, 0x00 if n == 0 else 0x80, 0x00, chunk),
                interactive=True,
                what="message",
            )
        prefix = b"\x19Ethereum Signed Message:\n" + str(len(message)).encode()
        return self._finish(vrs, keccak(prefix + message), path)

    def _finish(self, vrs: bytes, digest: bytes, path: str) -> bytes:
        """r || s || v, after checking the signature recovers to the device's address."""
        if len(vrs) != 65 or vrs[0] not in (27, 28):
            raise DeviceError("malformed signature from the Ledger")
        v, r, s = vrs[0], vrs[1:33], vrs[33:65]
        signature = Signature(vrs=(v - 27, int.from_bytes(r, "big"), int.from_bytes(s, "big")))
        signer = signature.recover_public_key_from_msg_hash(digest).to_checksum_address()
        if signer != self.get_address(path):
            raise DeviceError("the Ledger signed something other than the request")
        return r + s + bytes([v])

    def cancel(self) -> None:
        with self._lock:
            transport = self._transport
        if transport is not None:
            with contextlib.suppress(OSError):
                transport.close()

    def close(self) -> None:
        self._drop()


def _tell(notify: Notify | None, line: str) -> None:
    if notify is not None:
        notify(line)
