"""The Delegation Framework's `Delegation` struct, its EIP-712 hash and typed data.

The struct and type strings are the DelegationManager's (`src/utils/Constants.sol`):
``Delegation(address delegate,address delegator,bytes32 authority,Caveat[] caveats,uint256
salt)Caveat(address enforcer,bytes terms)``; a caveat's `args` and the delegation's
`signature` are not hashed (the redeemer fills args in; the signature signs the hash). The
domain is the DelegationManager's own {name "DelegationManager", version "1", chainId,
verifyingContract}: DelegationManager asks a delegator with code `isValidSignature(digest,
signature)` over exactly this digest, and a HybridDeleGator accepts it when the 65-byte
signature recovers to its owner, so a hardware wallet signs it as ordinary EIP-712 typed data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from signerd.addresses import to_checksum_address
from signerd.grants.typed_data import keccak
from signerd.onchain.abi import abi_decode, abi_encode

ROOT_AUTHORITY: Final = b"\xff" * 32
MANAGER_NAME: Final = "DelegationManager"
MANAGER_VERSION: Final = "1"

_CAVEAT_TYPE: Final = "Caveat(address enforcer,bytes terms)"
_DELEGATION_TYPE: Final = (
    "Delegation(address delegate,address delegator,bytes32 authority,Caveat[] caveats,"
    "uint256 salt)" + _CAVEAT_TYPE
)
_DOMAIN_TYPE: Final = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
CAVEAT_TYPEHASH: Final = keccak(_CAVEAT_TYPE.encode())
DELEGATION_TYPEHASH: Final = keccak(_DELEGATION_TYPE.encode())

# The struct as the contracts' ABI spells it, for abi-encoding a permission context.
DELEGATION_ABI: Final = "(address,address,bytes32,(address,bytes,bytes)[],uint256,bytes)"


@dataclass(frozen=True)
class Caveat:
    """One enforcer and its terms (signed); `args` are the redeemer's, not signed."""

    enforcer: str
    terms: bytes
    args: bytes = b""

    def to_json(self) -> dict[str, str]:
        return {
            "enforcer": self.enforcer,
            "terms": "0x" + self.terms.hex(),
            "args": "0x" + self.args.hex(),
        }


@dataclass(frozen=True)
class Delegation:
    """Authority from `delegator` to `delegate` under `caveats`; `signature` once signed."""

    delegate: str
    delegator: str
    authority: bytes
    caveats: tuple[Caveat, ...]
    salt: int
    signature: bytes = field(default=b"", compare=False)

    def signed(self, signature: bytes) -> Delegation:
        return replace(self, signature=signature)

    def with_args(self, args: Sequence[bytes]) -> Delegation:
        """The same delegation with the redeemer's per-caveat args (one per caveat)."""
        if len(args) != len(self.caveats):
            raise ValueError("one args value per caveat")
        caveats = tuple(replace(c, args=a) for c, a in zip(self.caveats, args, strict=True))
        return replace(self, caveats=caveats)

    def to_json(self) -> dict[str, Any]:
        return {
            "delegate": self.delegate,
            "delegator": self.delegator,
            "authority": "0x" + self.authority.hex(),
            "caveats": [c.to_json() for c in self.caveats],
            "salt": str(self.salt),
            "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Delegation:
        """The inverse of ``to_json`` (a stored delegation)."""
        return cls(
            delegate=value["delegate"],
            delegator=value["delegator"],
            authority=_hex(value["authority"]),
            caveats=tuple(
                Caveat(c["enforcer"], _hex(c["terms"]), _hex(c.get("args", "0x")))
                for c in value["caveats"]
            ),
            salt=int(value["salt"]),
            signature=_hex(value.get("signature", "0x")),
        )

    def abi_tuple(self) -> tuple[Any, ...]:
        """The struct as a tuple for eth-abi / web3 (the ABI's field order)."""
        return (
            to_checksum_address(self.delegate),
            to_checksum_address(self.delegator),
            self.authority,
            [(to_checksum_address(c.enforcer), c.terms, c.args) for c in self.caveats],
            self.salt,
            self.signature,
        )


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def caveat_hash(caveat: Caveat) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "address", "bytes32"],
            [CAVEAT_TYPEHASH, caveat.enforcer, keccak(caveat.terms)],
        )
    )


def delegation_hash(delegation: Delegation) -> bytes:
    """The struct hash DelegationManager.getDelegationHash computes (the id it disables)."""
    caveats = keccak(b"".join(caveat_hash(c) for c in delegation.caveats))
    return keccak(
        abi_encode(
            ["bytes32", "address", "address", "bytes32", "bytes32", "uint256"],
            [
                DELEGATION_TYPEHASH,
                delegation.delegate,
                delegation.delegator,
                delegation.authority,
                caveats,
                delegation.salt,
            ],
        )
    )


def domain_separator(chain_id: int, manager: str) -> bytes:
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                keccak(_DOMAIN_TYPE.encode()),
                keccak(MANAGER_NAME.encode()),
                keccak(MANAGER_VERSION.encode()),
                chain_id,
                manager,
            ],
        )
    )


def delegation_digest(delegation: Delegation, chain_id: int, manager: str) -> bytes:
    """The EIP-712 digest the delegator signs (what isValidSignature is asked about)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, manager) + delegation_hash(delegation))


def domain_fields() -> list[dict[str, str]]:
    """The ``EIP712Domain`` type of the framework's contracts (name, version, chainId,
    verifyingContract), as `eth_signTypedData_v4` JSON lists it; a fresh list each call."""
    return [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ]


def typed_data_domain(name: str, version: str, chain_id: int, contract: str) -> dict[str, Any]:
    """The ``domain`` of a contract's typed data, its address checksummed."""
    return {
        "name": name,
        "version": version,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }


def delegation_typed_data(delegation: Delegation, chain_id: int, manager: str) -> dict[str, Any]:
    """`eth_signTypedData_v4` JSON of the delegation, as a device signs it."""
    return {
        "types": {
            "EIP712Domain": domain_fields(),
            "Delegation": [
                {"name": "delegate", "type": "address"},
                {"name": "delegator", "type": "address"},
                {"name": "authority", "type": "bytes32"},
                {"name": "caveats", "type": "Caveat[]"},
                {"name": "salt", "type": "uint256"},
            ],
            "Caveat": [
                {"name": "enforcer", "type": "address"},
                {"name": "terms", "type": "bytes"},
            ],
        },
        "primaryType": "Delegation",
        "domain": typed_data_domain(MANAGER_NAME, MANAGER_VERSION, chain_id, manager),
        "message": {
            "delegate": to_checksum_address(delegation.delegate),
            "delegator": to_checksum_address(delegation.delegator),
            "authority": "0x" + delegation.authority.hex(),
            "caveats": [
                {"enforcer": to_checksum_address(c.enforcer), "terms": "0x" + c.terms.hex()}
                for c in delegation.caveats
            ],
            "salt": delegation.salt,
        },
    }


# A signerd context (one delegation, at most ~12 caveats) is under 4 KB.
MAX_PERMISSION_CONTEXT: Final = 16 * 1024


def encode_permission_context(chain: Sequence[Delegation]) -> bytes:
    """`abi.encode(Delegation[])`: one redemption's permission context, leaf first."""
    return abi_encode([DELEGATION_ABI + "[]"], [[d.abi_tuple() for d in chain]])


def root_delegation(context: bytes) -> Delegation:
    """The one delegation of a signerd permission context; ValueError for anything else.

    Bounded before eth-abi decodes it: ABI offsets may point at the same data, so 45 KB
    naming 700 delegations of 700 caveats each, all one, decoded into 490,000 objects
    (8 s). With one delegation and at most MAX_PERMISSION_CONTEXT bytes, its caveats are at
    most a few hundred.
    """
    if len(context) > MAX_PERMISSION_CONTEXT:
        raise ValueError(f"is longer than {MAX_PERMISSION_CONTEXT} bytes")
    head = int.from_bytes(context[:32], "big"), int.from_bytes(context[32:64], "big")
    if len(context) < 64 or head != (32, 1):
        raise ValueError("a signerd permission context is one root delegation")
    (delegation,) = decode_permission_context(context)
    return delegation


def decode_permission_context(context: bytes) -> list[Delegation]:
    """The inverse of ``encode_permission_context``; ValueError when it is not one."""
    try:
        (items,) = abi_decode([DELEGATION_ABI + "[]"], context)
    except Exception as exc:  # eth-abi raises several decoding error types
        raise ValueError(f"not an ABI-encoded Delegation[]: {exc}") from None
    return [
        Delegation(
            delegate=to_checksum_address(delegate),
            delegator=to_checksum_address(delegator),
            authority=bytes(authority),
            caveats=tuple(
                Caveat(to_checksum_address(e), bytes(t), bytes(a)) for e, t, a in caveats
            ),
            salt=int(salt),
            signature=bytes(signature),
        )
        for delegate, delegator, authority, caveats, salt, signature in items
    ]
