"""What a session key does with a delegation on anvil: redeem it for one execution; and the
chain's clock (now, warp). Shared by the delegation tests."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from web3 import Web3

from emulator.delegation_framework import Framework, contract
from signerd.onchain.delegation import Delegation, encode_permission_context
from signerd.onchain.execution import SINGLE_DEFAULT_MODE, erc20_transfer
from tests.chain.conftest import Chain


def redeem(
    chain: Chain, fw: Framework, session: LocalAccount, delegation: Delegation, amount: int, to: str
) -> str:
    """The session key redeems `delegation` to move `amount` USDC from the account to `to`;
    the transaction hash (ContractLogicError when the contracts refuse)."""
    return execute(chain, fw, session, delegation, erc20_transfer(chain.usdc.address, to, amount))


def execute(
    chain: Chain, fw: Framework, session: LocalAccount, delegation: Delegation, execution: bytes
) -> str:
    """The session key redeems `delegation` for one execution; the transaction hash."""
    return execute_context(chain, fw, session, encode_permission_context([delegation]), execution)


def execute_context(
    chain: Chain, fw: Framework, session: LocalAccount, context: bytes, execution: bytes
) -> str:
    """Redeem an encoded permission context (ERC-7715 `context`) for one execution."""
    manager = contract(chain.w3, "DelegationManager", fw.manager)
    call = manager.functions.redeemDelegations([context], [SINGLE_DEFAULT_MODE], [execution])
    tx = call.build_transaction(
        {"from": session.address, "nonce": chain.w3.eth.get_transaction_count(session.address)}
    )
    tx_hash = chain.w3.eth.send_raw_transaction(session.sign_transaction(tx).raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)
    assert receipt["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def chain_now(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
