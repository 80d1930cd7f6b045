"""What a redeemer sends: ERC-7579 single-call executions and the `redeemDelegations` modes.

`ExecutionLib.encodeSingle` packs target (20) | value (32) | callData; the default mode
(single call, revert on failure) is the zero word, the only mode the period enforcers take.
"""

from __future__ import annotations

from typing import Final

from signerd.grants.typed_data import keccak
from signerd.onchain.abi import abi_encode

SINGLE_DEFAULT_MODE: Final = b"\x00" * 32
_TRANSFER: Final = keccak(b"transfer(address,uint256)")[:4]


def single_execution(target: str, value: int, call_data: bytes) -> bytes:
    return bytes.fromhex(target.removeprefix("0x")) + value.to_bytes(32, "big") + call_data


def erc20_transfer(token: str, to: str, amount: int) -> bytes:
    """An execution moving `amount` of `token` from the delegator to `to`."""
    return single_execution(token, 0, _TRANSFER + abi_encode(["address", "uint256"], [to, amount]))


def native_transfer(to: str, wei: int) -> bytes:
    return single_execution(to, wei, b"")


def token_index_args(index: int) -> bytes:
    """MultiTokenPeriodEnforcer's args: which of its entries a transfer counts against."""
    return abi_encode(["uint256"], [index])
