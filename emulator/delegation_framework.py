"""MetaMask's Delegation Framework on the test chain: deploy the real contracts on anvil.

Test-double infrastructure like `emulator/chain.py` (tests and demo only, never the daemon).
Bytecode and ABIs come from npm `@metamask/delegation-abis` 2.0.0 (`dist/bytecode`,
`dist/abis`; each a CommonJS module whose literal we read, no node needed), pinned in
package.json. Deployed as MetaMask does: EntryPoint (v0.7), DelegationManager, the
HybridDeleGator implementation (its SCL_RIP7212 P-256 library linked) behind an ERC1967Proxy
per account, initialised with the owner's address only, and the enforcers signerd compiles
grants to.

    fw = deploy_framework(w3)
    account = deploy_hybrid_delegator(w3, fw, owner_address)   # plain CREATE, any address
    account = deploy_account(w3, fw, owner_address)            # at signerd's counterfactual one
    config_text = chains_toml(fw, rpc_url)                     # the daemon's [[chains]] entry
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from web3 import Web3
from web3.logs import DISCARD

from emulator.chain import NODE_MODULES, RECEIPT_TIMEOUT
from signerd.grants.typed_data import keccak
from signerd.onchain.account import account_address, deploy_call
from signerd.onchain.caveats import Enforcers

PACKAGE: Final = NODE_MODULES / "@metamask/delegation-abis/dist"
# Solidity's library placeholder: __$ + keccak256("<source>:<library>")[:17 bytes] + $__.
_SCL_PLACEHOLDER: Final = (
    "__$" + keccak(b"lib/SCL/src/lib/libSCL_RIP7212.sol:SCL_RIP7212").hex()[:34] + "$__"
)
_ENFORCERS: Final = {
    "erc20_period": "ERC20PeriodTransferEnforcer",
    "native_period": "NativeTokenPeriodTransferEnforcer",
    "multi_token_period": "MultiTokenPeriodEnforcer",
    "timestamp": "TimestampEnforcer",
    "value_lte": "ValueLteEnforcer",
    "exact_calldata": "ExactCalldataEnforcer",
}


def _literal(kind: str, contract: str, name: str) -> Any:
    text = (PACKAGE / kind / f"{contract}.cjs").read_text()
    marker = f"const {name} = "
    return json.JSONDecoder().raw_decode(text, text.index(marker) + len(marker))[0]


def abi(contract: str) -> list[Any]:
    """The contract's ABI as the package ships it."""
    value: list[Any] = _literal("abis", contract, "abi")
    return value


def bytecode(contract: str) -> str:
    """The contract's creation bytecode (0x-hex; may hold library placeholders)."""
    value: str = _literal("bytecode", contract, "bytecode")
    return value


@dataclass(frozen=True)
class Framework:
    """The deployed contracts of one chain (checksummed addresses)."""

    chain_id: int
    entry_point: str
    manager: str
    hybrid_implementation: str
    factory: str  # SimpleFactory (CREATE2), as the Delegation Toolkit deploys accounts
    enforcers: Enforcers


def transact(w3: Web3, call: Any, sender: str, value: int = 0) -> Any:
    """Send `call` from an unlocked anvil account; the receipt, RuntimeError on a revert."""
    tx_hash = call.transact({"from": sender, "value": value})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy(w3: Web3, contract: str, *args: Any, code: str | None = None) -> str:
    """Deploy one of the package's contracts from anvil's first account; its address."""
    factory = w3.eth.contract(abi=abi(contract), bytecode=code or bytecode(contract))
    address: str = transact(w3, factory.constructor(*args), w3.eth.accounts[0])["contractAddress"]
    return address


def deploy_framework(w3: Web3) -> Framework:
    admin = w3.eth.accounts[0]
    entry_point = deploy(w3, "EntryPoint")
    manager = deploy(w3, "DelegationManager", admin)
    library = deploy(w3, "SCL_RIP7212").lower().removeprefix("0x")
    code = bytecode("HybridDeleGator")
    if _SCL_PLACEHOLDER not in code:
        raise RuntimeError("HybridDeleGator's bytecode has no SCL_RIP7212 placeholder")
    code = code.replace(_SCL_PLACEHOLDER, library)
    implementation = deploy(w3, "HybridDeleGator", manager, entry_point, code=code)
    factory = deploy(w3, "SimpleFactory")
    enforcers = Enforcers(**{field: deploy(w3, name) for field, name in _ENFORCERS.items()})
    return Framework(w3.eth.chain_id, entry_point, manager, implementation, factory, enforcers)


def deploy_account(w3: Web3, fw: Framework, owner: str, salt: int = 0) -> str:
    """The owner's HybridDeleGator at `signerd.onchain.account.account_address`, deployed
    through SimpleFactory by anvil's first account (who pays does not matter)."""
    address = account_address(fw.factory, fw.hybrid_implementation, owner, salt)
    tx: Any = {
        "from": w3.eth.accounts[0],
        "to": Web3.to_checksum_address(fw.factory),
        "data": "0x" + deploy_call(fw.hybrid_implementation, owner, salt).hex(),
    }
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction(tx),
        timeout=RECEIPT_TIMEOUT,
    )
    if receipt["status"] != 1 or not w3.eth.get_code(Web3.to_checksum_address(address)):
        raise RuntimeError(f"no account deployed at {address}")
    return address


def chains_toml(fw: Framework, rpc_url: str, relayer_key_file: str | None = None) -> str:
    """signerd.toml's `[[chains]]` entry for the deployed framework."""
    lines = [
        "[[chains]]",
        f"chain = {fw.chain_id}",
        f'rpc = "{rpc_url}"',
        f'delegation_manager = "{fw.manager}"',
        f'entry_point = "{fw.entry_point}"',
        f'factory = "{fw.factory}"',
        f'hybrid_implementation = "{fw.hybrid_implementation}"',
    ]
    if relayer_key_file is not None:
        lines.append(f'relayer_key_file = "{relayer_key_file}"')
    lines.append("[chains.enforcers]")
    lines += [f'{name} = "{address}"' for name, address in vars(fw.enforcers).items()]
    return "\n".join(lines) + "\n"


def deploy_hybrid_delegator(w3: Web3, fw: Framework, owner: str) -> str:
    """A HybridDeleGator proxy whose only signer is `owner` (an EOA address, no key needed)."""
    implementation = w3.eth.contract(
        address=Web3.to_checksum_address(fw.hybrid_implementation), abi=abi("HybridDeleGator")
    )
    init = implementation.encode_abi("initialize", [Web3.to_checksum_address(owner), [], [], []])
    return deploy(w3, "ERC1967Proxy", fw.hybrid_implementation, bytes.fromhex(init[2:]))


def contract(w3: Web3, name: str, address: str) -> Any:
    """The package's ABI `name` bound to `address` (e.g. a proxy as "HybridDeleGator")."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi(name))


def send_user_operation(w3: Web3, fw: Framework, op: Any) -> Any:
    """Bundle one signed `signerd.onchain.userop.UserOperation` through the EntryPoint (anvil's
    first account as bundler); the receipt. EntryPoint does not revert when the operation's
    call fails, so the UserOperationEvent's `success` is checked too."""
    entry_point = contract(w3, "EntryPoint", fw.entry_point)
    bundler = w3.eth.accounts[0]
    receipt = transact(w3, entry_point.functions.handleOps([op.abi_tuple()], bundler), bundler)
    events = entry_point.events.UserOperationEvent().process_receipt(receipt, errors=DISCARD)
    if len(events) != 1 or not events[0]["args"]["success"]:
        raise RuntimeError(f"user operation failed in {receipt['transactionHash'].hex()}")
    return receipt
