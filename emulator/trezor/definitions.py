"""Signed definitions (networks, tokens) as a debug build of the firmware decodes them.

core/src/apps/common/definitions.py `decode_definition` at core/v2.12.4: b"trzd1", the type
byte, a u32 LE timestamp no older than MIN_DATA_VERSION, a u16 LE payload length and the
protobuf payload; then a Merkle proof (count, 32-byte nodes: sha256(0x01 ‖ min ‖ max) from
sha256(0x00 ‖ header ‖ payload)), a signer mask and a 64-byte CoSi signature, with nothing
after it. A debug build accepts a signature by the production keys or by the development
keys below (definitions_constants.py DEV_PUBLIC_KEYS, the keys trezorlib's test suite signs
with). Each failure answers the firmware's own DataError text.
"""

from __future__ import annotations

import hashlib
import io
from typing import TypeVar

from trezorlib import cosi, messages, protobuf

from emulator.trezor.wire import data_error

FORMAT_VERSION = b"trzd1"
MIN_DATA_VERSION = 1783520408
THRESHOLD = 2
PUBLIC_KEYS = tuple(
    bytes.fromhex(key)
    for key in (
        "4334996343623e462f0fc93311fef1484ca23d2ff1eec6df1fa8eb7e3573b3db",
        "a9a22cc265a0cb1d6cb329bc0e60bc45df76b9ab28fb87b61136feaf8d8fdc96",
        "b8d2b21de27124f0511f903ae7e60e07961810a0b8f28ea755fa50367a8a2b8b",
    )
)
DEV_PUBLIC_KEYS = tuple(
    bytes.fromhex(key)
    for key in (
        "68460ebef3b138164ec7fd8610e95800df7598f70f2f2ea7db5172ac74ebc144",
        "8d4abe074fef9229d3b441dfea4f98f805b1a2b3a06ae645810efece77fd5044",
        "97f7135a9a2690e73beb26556f1cb163bea2532affa1e7782430be98c0e56812",
    )
)
_TYPES = {
    "EthereumNetworkInfo": messages.DefinitionType.ETHEREUM_NETWORK,
    "EthereumTokenInfo": messages.DefinitionType.ETHEREUM_TOKEN,
    "EthereumDisplayFormatInfo": messages.DefinitionType.ETHEREUM_DISPLAY_FORMAT,
}

DefType = TypeVar("DefType", bound=protobuf.MessageType)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, n: int) -> bytes:
        if self.offset + n > len(self.data):
            raise EOFError
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "little")


def _verified(signature: bytes, digest: bytes, mask: int) -> bool:
    for keys in (PUBLIC_KEYS, DEV_PUBLIC_KEYS):
        try:
            cosi.verify(signature, digest, THRESHOLD, keys, mask)
            return True
        except Exception:  # cosi raises ValueError or _ed25519's own SignatureMismatch
            continue
    return False


def decode_definition(definition: bytes, expected: type[DefType]) -> DefType:
    """The definition's payload as ``expected``, or the firmware's DataError."""
    reader = _Reader(definition)
    try:
        if reader.take(len(FORMAT_VERSION)) != FORMAT_VERSION:
            raise data_error("Invalid definition")
        if reader.uint(1) != _TYPES[expected.__name__]:
            raise data_error("Definition type mismatch")
        if reader.uint(4) < MIN_DATA_VERSION:
            raise data_error("Definition is outdated")
        payload = reader.take(reader.uint(2))
        digest = hashlib.sha256(b"\x00" + definition[: reader.offset]).digest()
        for _ in range(reader.uint(1)):
            node = reader.take(32)
            low, high = sorted((digest, node))
            digest = hashlib.sha256(b"\x01" + low + high).digest()
        mask = reader.uint(1)
        signature = reader.take(64)
        if reader.offset != len(definition):
            raise data_error("Invalid definition")
    except EOFError:
        raise data_error("Invalid definition") from None
    if not _verified(signature, digest, mask):
        raise data_error("Invalid definition signature")
    try:
        decoded: DefType = protobuf.load_message(io.BytesIO(payload), expected)
    except (ValueError, EOFError, KeyError) as exc:
        raise data_error("Invalid definition") from exc
    return decoded
