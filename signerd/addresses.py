"""Ethereum addresses in their EIP-55 checksummed form, cached for the payment path.

eth-utils' ``to_checksum_address`` costs ~40 us (a keccak through two wrappers and its
conversions): a 0x-prefixed 40-digit address, the only form signerd handles, is checksummed
here with one keccak call (safe-pysha3) instead, and the answers are kept, keyed by the input
string, as a payment needs the same few addresses (its token, payer, payee) several times.

eth-utils itself is imported only for the other forms (bytes, no prefix, or not an address
at all, for its error): importing it (with pydantic) took a third of the daemon's and every
CLI command's start-up.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from sha3 import keccak_256

_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
# eth-utils' own pattern and flags for is_hex_address (0x or 0X, or no prefix).
_ANY_HEX_ADDRESS = re.compile(r"(0x)?[0-9a-f]{40}", re.IGNORECASE)
_HIGH_NIBBLE = bytes.maketrans(b"0123456789abcdef", b"\x00" * 8 + b"\xff" * 8)


@lru_cache(maxsize=8192)
def checksum_address(address: str) -> str:
    """The EIP-55 form of a 0x-prefixed 40-hex-digit address (any case); ValueError else."""
    if not (isinstance(address, str) and _HEX_ADDRESS.fullmatch(address)):
        return _eth_utils_checksum(address)  # other forms: eth-utils' answer or error
    digits = address[2:].lower()
    hashed = keccak_256(digits.encode("ascii")).hexdigest()[:40]
    # EIP-55: a letter is upper case where the hash's nibble at its position is 8 or more.
    # Done on all 40 characters at once, as 320-bit integers (a Python loop costs as much
    # again as the keccak): the mask has 0xff where the nibble is 8 or more.
    mask = int.from_bytes(hashed.encode("ascii").translate(_HIGH_NIBBLE), "big")
    lower = int.from_bytes(digits.encode("ascii"), "big")
    upper = int.from_bytes(digits.upper().encode("ascii"), "big")
    return "0x" + ((upper & mask) | (lower & ~mask)).to_bytes(40, "big").decode("ascii")


def to_checksum_address(value: str | bytes) -> str:
    """eth-utils' ``to_checksum_address`` for any form it takes (20 bytes, a hex string with
    or without 0x), its errors included; an address goes the cached way in each form."""
    if isinstance(value, str):
        if value[:2] != "0x" and _ANY_HEX_ADDRESS.fullmatch(value):
            value = "0x" + value[-40:]  # "0X" or no prefix: the same address, the cached way
        return checksum_address(value)
    if isinstance(value, bytes) and len(value) == 20:  # what eth-utils does with 20 bytes
        return checksum_address("0x" + value.hex())
    return _eth_utils_checksum(value)


def is_hex_address(value: Any) -> bool:
    """eth-utils' ``is_hex_address``: a string of 40 hex digits, with or without 0x."""
    return isinstance(value, str) and _ANY_HEX_ADDRESS.fullmatch(value) is not None


def _eth_utils_checksum(value: Any) -> str:
    from eth_utils.address import to_checksum_address as eth_utils_checksum

    return str(eth_utils_checksum(value))
