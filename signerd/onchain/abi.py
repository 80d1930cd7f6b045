"""ABI encoding and decoding: eth-abi's, imported on first use.

The daemon encodes calls only when a delegation is made, redeemed or disabled; importing
eth-abi (and eth-utils with it) at start-up cost more than the rest of the daemon's modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def abi_encode(types: Iterable[str], args: Iterable[Any]) -> bytes:
    """``eth_abi.encode``: ``args`` as the ABI ``types``."""
    from eth_abi.abi import encode

    return bytes(encode(types, args))


def abi_decode(types: Iterable[str], data: bytes) -> tuple[Any, ...]:
    """``eth_abi.decode`` (strict): ``data`` as the ABI ``types``."""
    from eth_abi.abi import decode

    return tuple(decode(types, data))
