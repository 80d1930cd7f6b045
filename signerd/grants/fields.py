"""Validators for single values, shared by grant requests and grant verification.

Each takes the untrusted JSON value and the dotted path naming it, and returns the normalised
value or raises ValidationError(path, message). Requests and signed grants go through the
same functions, so a grant the daemon would build is exactly a grant a verifier accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from signerd.addresses import checksum_address
from signerd.errors import ValidationError
from signerd.grants.schema import ZERO_ADDRESS

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# 78 digits hold any uint256; the cap also keeps int() away from huge inputs.
_DECIMAL = re.compile(r"[0-9]{1,78}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")

# EIP-55 costs a keccak, the largest share of checking a grant's values; the same few
# addresses (master, tokens, targets) recur across grants, so the answers are cached.
_checksummed = checksum_address


def checksummed(raw: bytes) -> str:
    """The EIP-55 form of a 20-byte address (cached: signers recur)."""
    return str(_checksummed("0x" + raw.hex()))


def path(parent: str, key: str | int) -> str:
    """The dotted path of ``key`` inside ``parent`` ("" is the root)."""
    return f"{parent}.{key}" if parent else str(key)


def uint(value: Any, field: str, *, maximum: int, minimum: int = 0) -> int:
    """An unsigned integer given as a JSON integer or a decimal string (big uint256 values)."""
    # bool is an int subclass: True must not silently become 1.
    if isinstance(value, bool):
        raise ValidationError(field, "must be an integer, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise ValidationError(field, "must be an integer or a string of decimal digits")
        number = int(value)
    elif isinstance(value, float):
        raise ValidationError(field, "must be an integer (no fraction or exponent)")
    else:
        raise ValidationError(field, f"must be an integer, not {_json_type(value)}")
    if number < minimum or number > maximum:
        raise ValidationError(field, f"must be between {minimum} and {maximum}")
    return number


def address(value: Any, field: str, *, allow_zero: bool = False) -> str:
    """An EIP-55 checksummed address; the message names the right form when only case is off."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be an address string, not {_json_type(value)}")
    if not _HEX_ADDRESS.fullmatch(value):
        raise ValidationError(field, "must be 0x followed by 40 hexadecimal digits")
    checksummed: str = _checksummed(value)
    # The zero address has no letters, so it is always "checksummed".
    if value != checksummed:
        raise ValidationError(field, f"is not EIP-55 checksummed; did you mean {checksummed}?")
    if not allow_zero and checksummed == ZERO_ADDRESS:
        raise ValidationError(field, "must not be the zero address")
    return checksummed


def text(value: Any, field: str, *, max_length: int) -> str:
    """A non-empty line of printable ASCII with no surrounding spaces, at most max_length long."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {_json_type(value)}")
    if not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    if not _PRINTABLE_ASCII.fullmatch(value):
        raise ValidationError(field, "must be printable ASCII (no control or non-ASCII characters)")
    if value != value.strip():
        raise ValidationError(field, "must not start or end with spaces")
    return value


def array(value: Any, field: str, *, max_items: int) -> Sequence[Any]:
    """A JSON array of at most max_items elements."""
    if not isinstance(value, list | tuple):
        raise ValidationError(field, f"must be an array, not {_json_type(value)}")
    if len(value) > max_items:
        raise ValidationError(field, f"must have at most {max_items} elements")
    return value


def obj(
    value: Any,
    field: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
) -> Mapping[str, Any]:
    """A JSON object with all of ``required``, any of ``optional`` and no other key."""
    if not isinstance(value, Mapping):
        raise ValidationError(field or "document", f"must be an object, not {_json_type(value)}")
    for key in value:
        if key not in required and key not in optional:
            raise ValidationError(path(field, str(key)), "unknown field")
    for key in required:
        if key not in value:
            raise ValidationError(path(field, key), "is required")
    return value


def _json_type(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return type(value).__name__
