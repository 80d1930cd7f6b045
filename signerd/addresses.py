"""Ethereum addresses in their EIP-55 checksummed form, cached for the payment path.

eth-utils' ``to_checksum_address`` costs tens of microseconds (a keccak through two wrappers
and a per-character loop), and a payment needs the same few addresses (its token, its payer,
its payee) several times: the answers are kept, keyed by the input string.
"""

from __future__ import annotations

from functools import lru_cache

from eth_utils.address import to_checksum_address


@lru_cache(maxsize=8192)
def checksum_address(address: str) -> str:
    """The EIP-55 form of a 0x-prefixed 40-hex-digit address (any case); ValueError else."""
    return str(to_checksum_address(address))
