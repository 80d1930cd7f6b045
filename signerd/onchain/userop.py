"""ERC-4337 v0.7 PackedUserOperations a DeleGator's owner signs (EIP-712, the DeleGator's domain).

A HybridDeleGator acts for its owner only through the EntryPoint (or itself): disabling a
delegation on chain is `disableDelegation(delegation)` called by the DeleGator, i.e. a user
operation whose signature is the owner's ECDSA over `getPackedUserOperationTypedDataHash`:
``PackedUserOperation(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32
accountGasLimits,uint256 preVerificationGas,bytes32 gasFees,bytes paymasterAndData,address
entryPoint)`` in the domain {name "HybridDeleGator", version "1", chainId, verifyingContract:
the DeleGator}. So a hardware wallet signs it as typed data too (bytes fields show as hex).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from signerd.addresses import to_checksum_address
from signerd.grants.typed_data import keccak
from signerd.onchain.abi import abi_encode
from signerd.onchain.delegation import (
    DELEGATION_ABI,
    Delegation,
    domain_fields,
    typed_data_domain,
)

DELEGATOR_NAME: Final = "HybridDeleGator"
DELEGATOR_VERSION: Final = "1"


def pack_pair(high: int, low: int) -> bytes:
    """Two uint128 in one bytes32 (gas limits: verification | call; fees: priority | max)."""
    return high.to_bytes(16, "big") + low.to_bytes(16, "big")


@dataclass(frozen=True)
class UserOperation:
    sender: str
    nonce: int
    call_data: bytes
    account_gas_limits: bytes
    pre_verification_gas: int
    gas_fees: bytes
    init_code: bytes = b""
    paymaster_and_data: bytes = b""
    signature: bytes = b""

    def signed(self, signature: bytes) -> UserOperation:
        return replace(self, signature=signature)

    def abi_tuple(self) -> tuple[Any, ...]:
        return (
            to_checksum_address(self.sender),
            self.nonce,
            self.init_code,
            self.call_data,
            self.account_gas_limits,
            self.pre_verification_gas,
            self.gas_fees,
            self.paymaster_and_data,
            self.signature,
        )


def user_operation_typed_data(op: UserOperation, chain_id: int, entry_point: str) -> dict[str, Any]:
    """`eth_signTypedData_v4` JSON the DeleGator's owner signs for `op`."""
    return {
        "types": {
            "EIP712Domain": domain_fields(),
            "PackedUserOperation": [
                {"name": "sender", "type": "address"},
                {"name": "nonce", "type": "uint256"},
                {"name": "initCode", "type": "bytes"},
                {"name": "callData", "type": "bytes"},
                {"name": "accountGasLimits", "type": "bytes32"},
                {"name": "preVerificationGas", "type": "uint256"},
                {"name": "gasFees", "type": "bytes32"},
                {"name": "paymasterAndData", "type": "bytes"},
                {"name": "entryPoint", "type": "address"},
            ],
        },
        "primaryType": "PackedUserOperation",
        "domain": typed_data_domain(DELEGATOR_NAME, DELEGATOR_VERSION, chain_id, op.sender),
        "message": {
            "sender": to_checksum_address(op.sender),
            "nonce": op.nonce,
            "initCode": "0x" + op.init_code.hex(),
            "callData": "0x" + op.call_data.hex(),
            "accountGasLimits": "0x" + op.account_gas_limits.hex(),
            "preVerificationGas": op.pre_verification_gas,
            "gasFees": "0x" + op.gas_fees.hex(),
            "paymasterAndData": "0x" + op.paymaster_and_data.hex(),
            "entryPoint": to_checksum_address(entry_point),
        },
    }


_DISABLE: Final = keccak(
    b"disableDelegation((address,address,bytes32,(address,bytes,bytes)[],uint256,bytes))"
)[:4]
# Gas for one disableDelegation call from a HybridDeleGator, with room to spare: the
# EntryPoint charges only what is used (the unused prefund returns to the account).
_VERIFICATION_GAS: Final = 200_000
_CALL_GAS: Final = 200_000
_PRE_VERIFICATION_GAS: Final = 60_000


def disable_delegation_op(delegation: Delegation, nonce: int, gas_price: int) -> UserOperation:
    """The user operation in which the delegator calls ``disableDelegation(delegation)``
    (DeleGatorCore forwards it to its DelegationManager); unsigned."""
    call_data = _DISABLE + abi_encode([DELEGATION_ABI], [delegation.abi_tuple()])
    return UserOperation(
        sender=delegation.delegator,
        nonce=nonce,
        call_data=call_data,
        account_gas_limits=pack_pair(_VERIFICATION_GAS, _CALL_GAS),
        pre_verification_gas=_PRE_VERIFICATION_GAS,
        gas_fees=pack_pair(gas_price, 2 * gas_price),
    )
