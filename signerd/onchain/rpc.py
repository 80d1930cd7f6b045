"""The daemon's few calls to a chain's node (web3, the ``onchain`` extra): read the person's
account and the EntryPoint, and send what the relayer pays for.

Only two kinds of transaction ever leave signerd, both sent and paid by the chain's relayer
key (``relayer_key_file``), neither able to move the person's funds: deploying the person's
HybridDeleGator through SimpleFactory (the owner is fixed by the init code), and bundling a
user operation the device signed (``EntryPoint.handleOps``; the account reimburses the gas
from its balance). Every node failure is ChainError, with the transaction hash once one was
sent; a missing RPC URL or relayer is ChainNotConfigured.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from signerd.errors import ChainError, ChainNotConfigured
from signerd.grants.typed_data import keccak
from signerd.onchain.abi import abi_decode, abi_encode
from signerd.onchain.account import account_address, deploy_call
from signerd.onchain.chains import ChainConfig
from signerd.onchain.userop import UserOperation
from signerd.safepath import trusted_file

if TYPE_CHECKING:
    from eth_keys.datatypes import PrivateKey
    from web3 import Web3

RECEIPT_TIMEOUT: Final = 60.0
_USEROP_TUPLE: Final = "(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)"
_HANDLE_OPS: Final = keccak(f"handleOps({_USEROP_TUPLE}[],address)".encode())[:4]
_GET_NONCE: Final = keccak(b"getNonce(address,uint192)")[:4]
_DISABLED: Final = keccak(b"disabledDelegations(bytes32)")[:4]
_USEROP_EVENT: Final = keccak(
    b"UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)"
)


@dataclass(frozen=True)
class Sent:
    """A mined transaction: its hash (0x-hex) and block."""

    tx: str
    block: int


def require_web3(chain: ChainConfig) -> None:
    """ChainNotConfigured unless web3 (the onchain extra) is installed; imports nothing."""
    if importlib.util.find_spec("web3") is None:
        raise ChainNotConfigured(
            f"on-chain steps on chain {chain.chain_id} need web3: install signerd[onchain]",
            {"chainId": chain.chain_id},
        )


def connect(chain: ChainConfig) -> Web3:
    require_web3(chain)
    from web3 import Web3  # the onchain extra; importing it costs the daemon's start-up

    return Web3(Web3.HTTPProvider(chain.rpc_url(), request_kwargs={"timeout": 10}))


def relayer_key(chain: ChainConfig) -> PrivateKey:
    """The key that pays gas on this chain, read from its file (never logged)."""
    if chain.relayer_key_file is None:
        raise ChainNotConfigured(
            f"chain {chain.chain_id} has no relayer_key_file: nobody pays the gas",
            {"chainId": chain.chain_id},
        )
    from eth_keys.datatypes import PrivateKey

    try:
        text = trusted_file(chain.relayer_key_file).read_text().strip()
        return PrivateKey(bytes.fromhex(text.removeprefix("0x")))
    except (OSError, ValueError) as exc:
        raise ChainNotConfigured(
            f"cannot read the relayer key of chain {chain.chain_id}: {type(exc).__name__}",
            {"chainId": chain.chain_id},
        ) from None


def _call(w3: Web3, to: str, data: bytes) -> bytes:
    try:
        return bytes(w3.eth.call({"to": w3.to_checksum_address(to), "data": data}))
    except Exception as exc:  # web3 raises many unrelated types for one failed call
        raise ChainError(f"the node refused a call to {to}: {exc}") from None


def has_code(w3: Web3, address: str) -> bool:
    try:
        return len(w3.eth.get_code(w3.to_checksum_address(address))) > 0
    except Exception as exc:
        raise ChainError(f"the node did not answer: {exc}") from None


def entry_point_nonce(w3: Web3, chain: ChainConfig, account: str) -> int:
    data = _GET_NONCE + abi_encode(["address", "uint192"], [account, 0])
    (nonce,) = abi_decode(["uint256"], _call(w3, chain.entry_point, data))
    return int(nonce)


def is_disabled(w3: Web3, chain: ChainConfig, delegation_hash: bytes) -> bool:
    data = _DISABLED + delegation_hash
    (disabled,) = abi_decode(["bool"], _call(w3, chain.delegation_manager, data))
    return bool(disabled)


def gas_price(w3: Web3) -> int:
    try:
        return int(w3.eth.gas_price)
    except Exception as exc:
        raise ChainError(f"the node did not answer: {exc}") from None


def send(w3: Web3, key: PrivateKey, to: str, data: bytes) -> tuple[Sent, Any]:
    """Sign and send one transaction from ``key``; (hash and block, receipt) once mined with
    success, ChainError otherwise."""
    from eth_account import Account

    sender = key.public_key.to_checksum_address()
    tx_hash = ""
    try:
        tx: Any = {
            "from": sender,
            "to": w3.to_checksum_address(to),
            "data": data,
            "nonce": w3.eth.get_transaction_count(sender),
            "chainId": w3.eth.chain_id,
        }
        tx["gas"] = int(w3.eth.estimate_gas(tx) * 12 // 10)
        tx["gasPrice"] = w3.eth.gas_price
        signed = Account.sign_transaction(tx, key.to_bytes())
        tx_hash = "0x" + bytes(w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)  # type: ignore[arg-type]
    except Exception as exc:
        # web3's revert errors are (message, revert data): the message says why.
        why = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        raise ChainError(f"transaction failed: {why}", {"tx": tx_hash or None}) from None
    if receipt["status"] != 1:
        raise ChainError(f"transaction {tx_hash} reverted", {"tx": tx_hash})
    return Sent(tx_hash, int(receipt["blockNumber"])), receipt


def deploy_account(w3: Web3, chain: ChainConfig, owner: str, key: PrivateKey) -> Sent:
    """Deploy the owner's HybridDeleGator through SimpleFactory, paid by ``key``."""
    address = account_address(chain.factory, chain.hybrid_implementation, owner, chain.account_salt)
    call = deploy_call(chain.hybrid_implementation, owner, chain.account_salt)
    sent, _ = send(w3, key, chain.factory, call)
    if not has_code(w3, address):
        raise ChainError(f"no account at {address} after the deployment", {"tx": sent.tx})
    return sent


def handle_op(w3: Web3, chain: ChainConfig, op: UserOperation, key: PrivateKey) -> Sent:
    """Bundle one signed user operation through the EntryPoint, paid by ``key`` (the account
    reimburses it). The EntryPoint does not revert when the operation's own call fails, so
    its UserOperationEvent's ``success`` is checked too."""
    beneficiary = key.public_key.to_checksum_address()
    data = _HANDLE_OPS + abi_encode(
        [_USEROP_TUPLE + "[]", "address"], [[op.abi_tuple()], beneficiary]
    )
    sent, receipt = send(w3, key, chain.entry_point, data)
    for log in receipt["logs"]:
        topics = [bytes(t) for t in log["topics"]]
        if topics and topics[0] == _USEROP_EVENT:
            _nonce, success, _cost, _gas = abi_decode(
                ["uint256", "bool", "uint256", "uint256"], bytes(log["data"])
            )
            if success:
                return sent
    raise ChainError(f"the user operation failed in {sent.tx}", {"tx": sent.tx})
