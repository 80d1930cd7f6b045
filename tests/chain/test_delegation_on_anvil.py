"""A grant as an ERC-7710 delegation on MetaMask's real Delegation Framework, on anvil.

The contracts come from npm `@metamask/delegation-abis` (emulator/delegation_framework.py).
First the pure encoding (signerd.onchain) against the contracts' own views; then the whole
story: the person's HybridDeleGator is owned by the simulated Trezor's address; the person
approves the grant and then its delegation on the device; the session key redeems it to move
USDC within the period's cap, is refused beyond it, can spend again in the next period, and is
refused once the person disabled the delegation (a user operation signed on the device).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError

from emulator.chain import fund_eth, mint_usdc, usdc_balance
from emulator.delegation_framework import (
    Framework,
    contract,
    deploy_framework,
    deploy_hybrid_delegator,
    send_user_operation,
)
from emulator.keys import MASTER_ADDRESS, Keyring
from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices.base import Signer
from signerd.devices.registry import open_signer
from signerd.grants.agent import agent_description
from signerd.grants.request import parse_grant_request
from signerd.grants.typed_data import build_grant_typed_data, signed_grant
from signerd.onchain.caveats import decode_erc20_period, decode_timestamp, describe
from signerd.onchain.compile import compile_delegation, verify_delegation
from signerd.onchain.delegation import (
    delegation_digest,
    delegation_hash,
    delegation_typed_data,
    domain_separator,
)
from signerd.onchain.execution import native_transfer
from signerd.onchain.userop import UserOperation, pack_pair, user_operation_typed_data
from tests.chain.conftest import Chain
from tests.chain.redeem import chain_now, execute, redeem, warp

USDC = 1_000_000
DAY = 86_400
CAP = 3 * USDC  # the grant's daily allowance
# DelegationManager's CannotUseADisabledDelegation() selector, as web3 reports the revert.
DISABLED = Web3.keccak(text="CannotUseADisabledDelegation()")[:4].hex()


@dataclass
class Setup:
    fw: Framework
    account: str  # the person's HybridDeleGator
    session: LocalAccount


@pytest.fixture(scope="module")
def fw(chain: Chain) -> Framework:
    return deploy_framework(chain.w3)


@pytest.fixture
def setup(chain: Chain, fw: Framework) -> Setup:
    account = deploy_hybrid_delegator(chain.w3, fw, MASTER_ADDRESS)
    session: LocalAccount = Account.create()
    fund_eth(chain.w3, session.address, 10**18)
    fund_eth(chain.w3, account, 10**18)  # the account pays its user operations' gas
    mint_usdc(chain.w3, chain.usdc, account, 10 * USDC)
    return Setup(fw, account, session)


@pytest.fixture
def trezor(tmp_path: Path) -> Iterator[tuple[TrezorSimulatorProcess, Signer]]:
    with TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device:
        signer = open_signer(device.path)
        try:
            yield device, signer
        finally:
            signer.close()


def grant_document(
    chain: Chain, session: str, sign: Any, allowance: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A grant of CAP USDC a day (or `allowance`) to `session`, valid a week from the chain's
    now; `sign` signs its typed data (the device, or the same key locally)."""
    now = chain_now(chain.w3)
    if allowance is None:
        allowance = {"token": chain.usdc.address, "amount": str(CAP), "period": DAY}
    request = parse_grant_request(
        {
            "agent": "topup-bot",
            "sessionKey": session,
            "chainId": chain.usdc.chain_id,
            "allowances": [allowance],
            "targets": [],
            "validAfter": now - 60,
            "validUntil": now + 7 * DAY,
        },
        now=now,
    )
    agent = agent_description(request.label, 1000, 4242, "/usr/bin/python3")
    typed = build_grant_typed_data(request, account=MASTER_ADDRESS, agent=agent, nonce=1)
    return signed_grant(typed, sign(typed), MASTER_ADDRESS)


def local_sign(typed: dict[str, Any]) -> bytes:
    key = Keyring().private_key("m/44'/60'/0'/0/0")
    return bytes(Account.sign_typed_data(key, full_message=typed).signature)


def test_the_encoding_is_the_contracts_own(chain: Chain, setup: Setup) -> None:
    """Python's delegation hash, domain and terms equal what the deployed contracts compute."""
    fw = setup.fw
    grant = grant_document(chain, setup.session.address, local_sign)
    delegation = compile_delegation(grant, setup.account, fw.enforcers)
    manager = contract(chain.w3, "DelegationManager", fw.manager)
    as_tuple = delegation.abi_tuple()
    assert manager.functions.getDelegationHash(as_tuple).call() == delegation_hash(delegation)
    assert manager.functions.getDomainHash().call() == domain_separator(fw.chain_id, fw.manager)
    periods = [c for c in delegation.caveats if c.enforcer == fw.enforcers.erc20_period]
    assert len(periods) == 1
    on_chain = contract(chain.w3, "ERC20PeriodTransferEnforcer", fw.enforcers.erc20_period)
    token, amount, duration, start = on_chain.functions.getTermsInfo(periods[0].terms).call()
    assert (token, amount, duration, start) == tuple(
        vars(decode_erc20_period(periods[0].terms)).values()
    )
    assert (token.lower(), amount, duration) == (chain.usdc.address.lower(), CAP, DAY)
    assert start == grant["typedData"]["message"]["validAfter"]
    stamp = contract(chain.w3, "TimestampEnforcer", fw.enforcers.timestamp)
    (window,) = [c for c in delegation.caveats if c.enforcer == fw.enforcers.timestamp]
    assert tuple(stamp.functions.getTermsInfo(window.terms).call()) == decode_timestamp(
        window.terms
    )
    # The account accepts the owner's signature of the digest (ERC-1271), nobody else's.
    digest = delegation_digest(delegation, fw.chain_id, fw.manager)
    typed = delegation_typed_data(delegation, fw.chain_id, fw.manager)
    account = contract(chain.w3, "HybridDeleGator", setup.account)
    assert account.functions.isValidSignature(digest, local_sign(typed)).call() == bytes.fromhex(
        "1626ba7e"
    )
    stranger = bytes(Account.sign_typed_data(Account.create().key, full_message=typed).signature)
    assert account.functions.isValidSignature(digest, stranger).call() != bytes.fromhex("1626ba7e")
    verify_delegation(grant, delegation, fw.enforcers)


def test_redeem_within_the_cap_roll_over_and_revoke_on_the_device(
    chain: Chain, setup: Setup, trezor: tuple[TrezorSimulatorProcess, Signer], record_property: Any
) -> None:
    device, signer = trezor
    fw, w3, session = setup.fw, chain.w3, setup.session
    assert signer.get_address() == MASTER_ADDRESS

    grant = grant_document(chain, session.address, signer.sign_typed_data)
    delegation = compile_delegation(grant, setup.account, fw.enforcers)
    verify_delegation(grant, delegation, fw.enforcers)
    names = {chain.usdc.address.lower(): ("USDC", 6)}
    decoded = [describe(fw.enforcers, c.enforcer, c.terms, names) for c in delegation.caveats]
    typed = delegation_typed_data(delegation, fw.chain_id, fw.manager)
    delegation = delegation.signed(signer.sign_typed_data(typed))
    screens = device.screen_text()
    assert "DelegationManager" in screens
    record_property("delegation_screens", screens)
    record_property("decoded_caveats", decoded)

    shop = Account.create().address
    hashes: dict[str, str] = {}
    before = usdc_balance(w3, chain.usdc, setup.account)
    hashes["redeem 2 USDC"] = redeem(chain, fw, session, delegation, 2 * USDC, session.address)
    hashes["redeem 1 USDC to a shop"] = redeem(chain, fw, session, delegation, 1 * USDC, shop)
    assert usdc_balance(w3, chain.usdc, setup.account) == before - CAP
    assert usdc_balance(w3, chain.usdc, session.address) == 2 * USDC
    assert usdc_balance(w3, chain.usdc, shop) == 1 * USDC

    with pytest.raises(ContractLogicError, match="transfer-amount-exceeded"):
        redeem(chain, fw, session, delegation, 1, session.address)

    warp(w3, DAY)
    hashes["redeem 3 USDC next day"] = redeem(chain, fw, session, delegation, CAP, session.address)
    assert usdc_balance(w3, chain.usdc, session.address) == 2 * USDC + CAP
    with pytest.raises(ContractLogicError, match="transfer-amount-exceeded"):
        redeem(chain, fw, session, delegation, 1, session.address)

    warp(w3, DAY)
    account = contract(w3, "HybridDeleGator", setup.account)
    entry_point = contract(w3, "EntryPoint", fw.entry_point)
    call_data = bytes.fromhex(account.encode_abi("disableDelegation", [delegation.abi_tuple()])[2:])
    gas_price = int(w3.eth.gas_price)
    op = UserOperation(
        sender=setup.account,
        nonce=entry_point.functions.getNonce(setup.account, 0).call(),
        call_data=call_data,
        account_gas_limits=pack_pair(200_000, 200_000),
        pre_verification_gas=60_000,
        gas_fees=pack_pair(gas_price, 2 * gas_price),
    )
    op = op.signed(
        signer.sign_typed_data(user_operation_typed_data(op, fw.chain_id, fw.entry_point))
    )
    receipt = send_user_operation(w3, fw, op)
    hashes["disableDelegation (user operation)"] = "0x" + bytes(receipt["transactionHash"]).hex()
    manager = contract(w3, "DelegationManager", fw.manager)
    assert manager.functions.disabledDelegations(delegation_hash(delegation)).call()
    with pytest.raises(ContractLogicError, match=DISABLED):
        redeem(chain, fw, session, delegation, 1, session.address)
    assert usdc_balance(w3, chain.usdc, session.address) == 2 * USDC + CAP
    record_property("transactions", hashes)
    record_property(
        "balances",
        {
            "account": usdc_balance(w3, chain.usdc, setup.account),
            "session": usdc_balance(w3, chain.usdc, session.address),
            "shop": usdc_balance(w3, chain.usdc, shop),
        },
    )


def test_native_coin_plain_transfers_only_and_not_after_the_window(
    chain: Chain, setup: Setup
) -> None:
    """A grant of the chain's coin: plain transfers within the cap; a contract call (here
    the account's USDC) is refused even with no value; nothing once the grant expired."""
    fw, w3, session = setup.fw, chain.w3, setup.session
    milli = 10**15
    allowance = {"token": "0x" + "0" * 40, "amount": str(milli), "period": 0}
    grant = grant_document(chain, session.address, local_sign, allowance)
    delegation = compile_delegation(grant, setup.account, fw.enforcers)
    typed = delegation_typed_data(delegation, fw.chain_id, fw.manager)
    delegation = delegation.signed(local_sign(typed))
    shop = Account.create().address

    execute(chain, fw, session, delegation, native_transfer(shop, milli // 2))
    assert w3.eth.get_balance(shop) == milli // 2
    with pytest.raises(ContractLogicError, match="transfer-amount-exceeded"):
        execute(chain, fw, session, delegation, native_transfer(shop, milli))
    with pytest.raises(ContractLogicError, match="ExactCalldataEnforcer:invalid-calldata"):
        redeem(chain, fw, session, delegation, USDC, session.address)
    assert usdc_balance(w3, chain.usdc, session.address) == 0

    warp(w3, 8 * DAY)  # past validUntil (a week)
    with pytest.raises(ContractLogicError, match="TimestampEnforcer:expired-delegation"):
        execute(chain, fw, session, delegation, native_transfer(shop, 1))
    assert w3.eth.get_balance(shop) == milli // 2


def test_a_ledger_signs_the_delegation_too(
    chain: Chain, setup: Setup, tmp_path: Path, record_property: Any
) -> None:
    """The simulated Ledger Nano S+ (Raw messages on: the app shows every field, the terms as
    hex) signs the same delegation; the account accepts it and it redeems."""
    fw, session = setup.fw, setup.session
    with LedgerSimulatorProcess(
        model="nanosp", auto="approve", log_path=tmp_path / "ledger.log"
    ) as device:
        device.set_settings(raw_messages=True)
        with open_signer(device.path) as signer:
            assert signer.get_address() == MASTER_ADDRESS
            grant = grant_document(chain, session.address, local_sign)
            delegation = compile_delegation(grant, setup.account, fw.enforcers)
            typed = delegation_typed_data(delegation, fw.chain_id, fw.manager)
            delegation = delegation.signed(signer.sign_typed_data(typed))
        screens = device.screen_text()
    assert "Delegation" in screens
    redeem(chain, fw, session, delegation, USDC, session.address)
    assert usdc_balance(chain.w3, chain.usdc, session.address) == USDC
    record_property("ledger_screens", screens)
