"""The person's account on chain: a MetaMask HybridDeleGator owned by the device's address.

Why a HybridDeleGator (and not the device's EOA upgraded with EIP-7702): every device signs
its delegations and user operations as plain EIP-712 typed data, while an EIP-7702
authorization is a new signing operation no Trezor or Ledger firmware offers today. The
account is an ERC1967Proxy of the framework's HybridDeleGator implementation, initialised
with the owner's address alone, deployed with CREATE2 through MetaMask's SimpleFactory, as the
Delegation Toolkit does: its address is known before it exists (a delegation can name it
first), and depends only on the chain's factory and implementation, the owner and a salt.
Anyone may pay for the deployment: the owner is fixed by the init code, not by the sender.

``PROXY_CREATION_CODE`` is OpenZeppelin's ERC1967Proxy as compiled in npm
``@metamask/delegation-abis`` 2.0.0 (``dist/bytecode/ERC1967Proxy``; tests/onchain checks
that it is byte for byte the package's), kept here so the daemon needs no node install.
"""

from __future__ import annotations

from typing import Final

from signerd.addresses import to_checksum_address
from signerd.grants.typed_data import keccak
from signerd.onchain.abi import abi_encode

PROXY_CREATION_CODE: Final = bytes.fromhex(
    "60806040526040516103f03803806103f08339810160408190526100229161025e565b61002c828261003356"
    "5b5050610341565b61003c82610091565b6040516001600160a01b038316907fbc7cd75a20ee27fd9adebab3"
    "2041f755214dbc6bffa90cc0225b39da2e5c2d3b905f90a280511561008557610080828261010c565b505050"
    "565b61008d61017f565b5050565b806001600160a01b03163b5f036100cb57604051634c9c8ce360e01b8152"
    "6001600160a01b03821660048201526024015b60405180910390fd5b7f360894a13ba1a3210667c828492db9"
    "8dca3e2076cc3735a920a3ca505d382bbc80546001600160a01b0319166001600160a01b0392909216919091"
    "179055565b60605f80846001600160a01b0316846040516101289190610326565b5f60405180830381855af4"
    "9150503d805f8114610160576040519150601f19603f3d011682016040523d82523d5f602084013e61016556"
    "5b606091505b5090925090506101768583836101a0565b95945050505050565b341561019e5760405163b398"
    "979f60e01b815260040160405180910390fd5b565b6060826101b5576101b0826101ff565b6101f8565b8151"
    "1580156101cc57506001600160a01b0384163b155b156101f557604051639996b31560e01b81526001600160"
    "a01b03851660048201526024016100c2565b50805b9392505050565b80511561020f5780518082602001fd5b"
    "604051630a12f52160e11b815260040160405180910390fd5b634e487b7160e01b5f52604160045260245ffd"
    "5b5f5b8381101561025657818101518382015260200161023e565b50505f910152565b5f8060408385031215"
    "61026f575f80fd5b82516001600160a01b0381168114610285575f80fd5b6020840151909250600160016040"
    "1b03808211156102a1575f80fd5b818501915085601f8301126102b4575f80fd5b8151818111156102c65761"
    "02c6610228565b604051601f8201601f19908116603f011681019083821181831017156102ee576102ee6102"
    "28565b81604052828152886020848701011115610306575f80fd5b61031783602083016020880161023c565b"
    "80955050505050509250929050565b5f825161033781846020870161023c565b9190910192915050565b60a3"
    "8061034d5f395ff3fe6080604052600a600c565b005b60186014601a565b6050565b565b5f604b7f360894a1"
    "3ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc546001600160a01b031690565b905090"
    "565b365f80375f80365f845af43d5f803e8080156069573d5ff35b3d5ffdfea2646970667358221220fd2cc9"
    "2935c943d341edacaf5318a0b9ab0185ce62ef72e95ab393ef358730c464736f6c63430008170033"
)
_INITIALIZE: Final = keccak(b"initialize(address,string[],uint256[],uint256[])")[:4]
_DEPLOY: Final = keccak(b"deploy(bytes,bytes32)")[:4]


def initialize_call(owner: str) -> bytes:
    """HybridDeleGator.initialize(owner, no P-256 keys): the proxy's constructor call."""
    return _INITIALIZE + abi_encode(
        ["address", "string[]", "uint256[]", "uint256[]"], [to_checksum_address(owner), [], [], []]
    )


def account_init_code(implementation: str, owner: str) -> bytes:
    """The proxy's creation code with its constructor arguments (implementation, init call)."""
    args = abi_encode(
        ["address", "bytes"], [to_checksum_address(implementation), initialize_call(owner)]
    )
    return PROXY_CREATION_CODE + args


def salt_word(salt: int) -> bytes:
    return salt.to_bytes(32, "big")


def create2_address(deployer: str, salt: int, init_code: bytes) -> str:
    digest = keccak(
        b"\xff" + bytes.fromhex(deployer.removeprefix("0x")) + salt_word(salt) + keccak(init_code)
    )
    return to_checksum_address(digest[12:])


def account_address(factory: str, implementation: str, owner: str, salt: int = 0) -> str:
    """The counterfactual HybridDeleGator of ``owner`` (deployed or not)."""
    return create2_address(factory, salt, account_init_code(implementation, owner))


def deploy_call(implementation: str, owner: str, salt: int = 0) -> bytes:
    """SimpleFactory.deploy calldata that creates the account at ``account_address``."""
    init_code = account_init_code(implementation, owner)
    return _DEPLOY + abi_encode(["bytes", "bytes32"], [init_code, salt_word(salt)])
