"""Protocol v1 as the Trezor firmware speaks it over UDP, and the failures it answers with.

A message is `"##" + type (u16 BE) + length (u32 BE) + protobuf`, cut into 64-byte reports:
the first starts with "?", continuations with "?" too, the last one zero-padded. Protobuf
(de)serialisation is trezorlib's own mapping, so the simulator and the client agree on every
field by construction.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from trezorlib import messages, protobuf
from trezorlib.mapping import DEFAULT_MAPPING

REPORT_SIZE = 64
HEADER = struct.Struct(">HL")
FIRST_MAGIC = b"?##"
NEXT_MAGIC = b"?"
# Largest message the simulator accepts: real firmware buffers are far smaller, and a
# bogus length in a header must not make the simulator wait for gigabytes.
MAX_MESSAGE = 1 << 20

Address = tuple[str, int]


class WireFailure(Exception):
    """Ends the current workflow; the device answers Failure(code, message)."""

    def __init__(self, code: messages.FailureType, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_message(self) -> messages.Failure:
        return messages.Failure(code=self.code, message=self.message)


def data_error(message: str) -> WireFailure:
    return WireFailure(messages.FailureType.DataError, message)


def unexpected_message() -> WireFailure:
    return WireFailure(messages.FailureType.UnexpectedMessage, "Unexpected message")


def action_cancelled() -> WireFailure:
    return WireFailure(messages.FailureType.ActionCancelled, "Cancelled")


def encode(msg: protobuf.MessageType) -> tuple[int, bytes]:
    msg_type, payload = DEFAULT_MAPPING.encode(msg)
    return int(msg_type), bytes(payload)


def decode(msg_type: int, payload: bytes) -> protobuf.MessageType:
    """The message, or WireFailure as the firmware answers for unknown or undecodable input."""
    if msg_type not in DEFAULT_MAPPING.type_to_class:
        raise unexpected_message()
    try:
        msg: protobuf.MessageType = DEFAULT_MAPPING.decode(msg_type, payload)
    except Exception as exc:  # trezorlib raises a mix of ValueError/KeyError/EOFError
        raise data_error("Failed to decode message") from exc
    return msg


def reports(msg_type: int, payload: bytes) -> list[bytes]:
    """The 64-byte reports carrying one message."""
    stream = b"##" + HEADER.pack(msg_type, len(payload)) + payload
    step = REPORT_SIZE - 1
    return [
        (NEXT_MAGIC + stream[i : i + step]).ljust(REPORT_SIZE, b"\x00")
        for i in range(0, len(stream), step)
    ]


@dataclass
class _Partial:
    msg_type: int
    length: int
    data: bytearray = field(default_factory=bytearray)


class Reassembler:
    """Joins reports into messages, separately for each peer address.

    Reports that fit no message in progress (bad magic, stray continuations) are dropped,
    as the firmware drops them: a garbage packet must never wedge the link.
    """

    def __init__(self) -> None:
        self._partial: dict[Address, _Partial] = {}

    def feed(self, peer: Address, report: bytes) -> tuple[int, bytes] | None:
        """A complete (type, payload) once the report finishing a message arrives."""
        partial = self._partial.get(peer)
        if partial is not None and report.startswith(NEXT_MAGIC):
            # Like the firmware: while a message is in progress every "?" report continues
            # it, even one whose payload happens to begin with "##".
            partial.data += report[len(NEXT_MAGIC) :]
        elif report.startswith(FIRST_MAGIC) and len(report) >= len(FIRST_MAGIC) + HEADER.size:
            msg_type, length = HEADER.unpack_from(report, len(FIRST_MAGIC))
            if length > MAX_MESSAGE:
                return None
            partial = _Partial(msg_type, length)
            partial.data += report[len(FIRST_MAGIC) + HEADER.size :]
            self._partial[peer] = partial
        else:
            return None
        if len(partial.data) < partial.length:
            return None
        del self._partial[peer]
        return partial.msg_type, bytes(partial.data[: partial.length])
