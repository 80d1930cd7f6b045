"""EIP-712 values as the Ledger Ethereum app encodes and shows them (E0 1C field values).

Mirrors app-ethereum's field_hash.c and encode_field.c (a raw value's 32-byte encoding) and
ui_logic.c (the text the device shows of it, and the struct headers): `ShownStruct` and
`ShownField` are what the review screens are built from (`app_eip712.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from emulator.ledger.eip712_defs import SW_INVALID_DATA, Eip712Error, FieldDef, FieldType

# What the app shows of a value: strings are cut at 100 characters with "..." (ui_logic.c
# truncates to its display buffer), titles at 40.
MAX_VALUE_CHARS = 100
MAX_TITLE_CHARS = 40


@dataclass(frozen=True)
class ShownStruct:
    """A struct entered: its type name; `root` for the domain and the message themselves."""

    name: str
    root: bool = False


@dataclass(frozen=True)
class ShownField:
    """One field screen: key name (title) and the formatted value."""

    key: str
    value: str


Shown = ShownStruct | ShownField


def encode_value(fdef: FieldDef, value: bytes) -> tuple[bytes, str]:
    """(32-byte EIP-712 encoding, text the device shows) of a raw value, as field_hash.c."""
    t = fdef.type
    if t is FieldType.STRING:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise Eip712Error(SW_INVALID_DATA, "string is not UTF-8") from None
        return keccak(value), _cut(text)
    if t is FieldType.DYN_BYTES:
        return keccak(value), _cut("0x" + value.hex())
    # encode_field.c: numbers and fixed bytes up to 32 bytes whatever the declared size;
    # an int is sign-extended only when it comes at its full size.
    if len(value) > 32:
        raise Eip712Error(SW_INVALID_DATA, f"{len(value)}-byte value for {fdef.type_name}")
    if t is FieldType.UINT:
        return value.rjust(32, b"\0"), str(int.from_bytes(value, "big"))
    if t is FieldType.INT:
        if not value:
            raise Eip712Error(SW_INVALID_DATA, f"empty value for {fdef.type_name}")
        negative = len(value) == (fdef.size or 0) and value[0] & 0x80
        encoded = value.rjust(32, b"\xff" if negative else b"\0")
        return encoded, str(int.from_bytes(encoded, "big", signed=True))
    if t is FieldType.ADDRESS:
        if len(value) != 20:
            raise Eip712Error(SW_INVALID_DATA, "address must be 20 bytes")
        return value.rjust(32, b"\0"), to_checksum_address(value)
    if t is FieldType.BOOL:
        if len(value) != 1:
            raise Eip712Error(SW_INVALID_DATA, "bool must be one byte")
        return value.rjust(32, b"\0"), "true" if value[0] else "false"
    if t is FieldType.FIX_BYTES:
        return value.ljust(32, b"\0"), _cut("0x" + value.hex())
    raise Eip712Error(SW_INVALID_DATA, "a struct has no raw value")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
