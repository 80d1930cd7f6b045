"""The delegation through the real daemon: `signerd serve` on the simulated Trezor, MetaMask's
Delegation Framework on anvil. The agent asks for a grant, then for its delegation; the person
approves both on the device (the daemon's progress message says what each caveat's hex
terms mean); the agent gets a signed delegation that redeems within the cap and no further,
and `signerd_getDelegation` returns the same one later. `signerd account` finds and deploys
the person's account; `signerd revoke --on-chain` disables the delegation through a user
operation signed on the device, after which redemption reverts."""

from __future__ import annotations

import asyncio
import json
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
    chains_toml,
    contract,
    deploy_account,
    deploy_framework,
)
from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.config import load_config
from signerd.errors import ChainError, ChainNotConfigured
from signerd.flows.delegation import person_account
from signerd.flows.permissions import dependencies
from signerd.launch import DaemonProcess
from signerd.onchain.delegation import Delegation
from signerd.onchain.execution import erc20_transfer
from tests.chain.conftest import Chain
from tests.chain.redeem import chain_now, execute_context, redeem
from tests.support import signerd_cli

USDC = 1_000_000
DAY = 86_400
CAP = 3 * USDC


DISABLED = Web3.keccak(text="CannotUseADisabledDelegation()")[:4].hex()


@dataclass
class Served:
    fw: Framework
    account: str
    device: TrezorSimulatorProcess
    daemon: DaemonProcess
    config: Path


def funded_key_file(chain: Chain, path: Path) -> Path:
    """A fresh key with ether, written as hex to `path` (a relayer / funder key)."""
    key: LocalAccount = Account.create()
    fund_eth(chain.w3, key.address, 10**18)
    path.write_text("0x" + bytes(key.key).hex())
    return path


def daemon_config(chain: Chain, fw: Framework, relayer: Path) -> str:
    tokens = (
        f'[[tokens]]\nchain = {chain.usdc.chain_id}\naddress = "{chain.usdc.address}"\n'
        'symbol = "USDC"\ndecimals = 6\n'
    )
    return tokens + chains_toml(fw, chain.anvil.rpc_url, str(relayer))


@pytest.fixture(scope="module")
def served(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    fw = deploy_framework(chain.w3)
    account = deploy_account(chain.w3, fw, MASTER_ADDRESS)
    mint_usdc(chain.w3, chain.usdc, account, 10 * USDC)
    fund_eth(chain.w3, account, 10**18)  # the account pays its user operations' gas
    work = tmp_path_factory.mktemp("daemon")
    config = daemon_config(chain, fw, funded_key_file(chain, work / "relayer.key"))
    with (
        TrezorSimulatorProcess(auto="approve", log_path=work / "sim.log") as device,
        DaemonProcess(device.path, work, config=config) as daemon,
    ):
        assert daemon.config_path is not None
        yield Served(fw, account, device, daemon, daemon.config_path)


def grant_params(chain: Chain, session: str, chain_id: int | None = None) -> dict[str, Any]:
    now = chain_now(chain.w3)
    return {
        "agent": "topup-bot",
        "sessionKey": session,
        "chainId": chain_id or chain.usdc.chain_id,
        "allowances": [{"token": chain.usdc.address, "amount": str(CAP), "period": DAY}],
        "targets": [],
        "validAfter": now - 60,
        "validUntil": now + 7 * DAY,
    }


def new_session(chain: Chain) -> LocalAccount:
    session: LocalAccount = Account.create()
    fund_eth(chain.w3, session.address, 10**18)
    return session


def test_the_agent_gets_a_delegation_that_redeems(
    chain: Chain, served: Served, record_property: Any
) -> None:
    session = new_session(chain)
    messages: list[str] = []
    with Client(served.daemon.socket_path) as client:
        grant = client.request_grant(**grant_params(chain, session.address))["grant"]
        reply = client.call(
            "signerd_requestDelegation", {"grantId": grant["id"]}, on_progress=messages.append
        )
        assert client.call("signerd_getDelegation", {"grantId": grant["id"]}) == reply
    assert reply["delegator"] == served.account
    assert reply["delegationManager"] == served.fw.manager
    delegation = Delegation.from_json(reply["delegation"])
    assert delegation.delegate == session.address
    assert delegation.salt == int(grant["id"], 16)
    shown = "\n".join(messages)
    assert "ERC20PeriodTransfer: 3 USDC/day from" in shown
    assert "Timestamp: after" in shown and "ValueLte: at most 0 wei per call" in shown
    screens = served.device.screen_text()
    assert "DelegationManager" in screens

    before = usdc_balance(chain.w3, chain.usdc, served.account)
    tx = redeem(chain, served.fw, session, delegation, 2 * USDC, session.address)
    assert usdc_balance(chain.w3, chain.usdc, session.address) == 2 * USDC
    assert usdc_balance(chain.w3, chain.usdc, served.account) == before - 2 * USDC
    with pytest.raises(ContractLogicError, match="transfer-amount-exceeded"):
        redeem(chain, served.fw, session, delegation, 2 * USDC, session.address)
    record_property("progress", messages)
    record_property("screens", screens)
    record_property("redeem_tx", tx)


def test_an_unknown_chain_is_refused_before_the_device(chain: Chain, served: Served) -> None:
    session = new_session(chain)
    with Client(served.daemon.socket_path) as client:
        grant = client.request_grant(**grant_params(chain, session.address, chain_id=8453))
        shown = served.device.screen_text()
        with pytest.raises(ChainNotConfigured):
            client.call("signerd_requestDelegation", {"grantId": grant["grant"]["id"]})
    assert served.device.screen_text() == shown


def test_signerd_account_finds_and_deploys_the_account(
    chain: Chain, served: Served, tmp_path: Path
) -> None:
    where = ["--config", str(served.config), "--chain", str(chain.usdc.chain_id)]
    shown = signerd_cli("account", "address", *where, "--owner", MASTER_ADDRESS, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {
        "chainId": chain.usdc.chain_id,
        "owner": MASTER_ADDRESS,
        "account": served.account,
        "salt": 0,
        "deployed": True,
    }
    owner = Account.create().address
    before = json.loads(
        signerd_cli("account", "address", *where, "--owner", owner, "--json").stdout
    )
    assert before["deployed"] is False
    funder = funded_key_file(chain, tmp_path / "funder.key")
    deployed = signerd_cli(
        "account", "deploy", *where, "--owner", owner, "--funder-key-file", str(funder), "--json"
    )
    assert deployed.returncode == 0, deployed.stderr
    reply = json.loads(deployed.stdout)
    assert reply["account"] == before["account"] and reply["tx"].startswith("0x")
    account = contract(chain.w3, "HybridDeleGator", reply["account"])
    assert account.functions.owner().call() == owner
    again = signerd_cli("account", "deploy", *where, "--owner", owner, "--json")
    assert json.loads(again.stdout)["tx"] is None  # already there: nothing sent


def test_revoke_on_chain_then_redemption_reverts(
    chain: Chain, served: Served, record_property: Any
) -> None:
    session = new_session(chain)
    with Client(served.daemon.socket_path) as client:
        grant = client.request_grant(**grant_params(chain, session.address))["grant"]
        reply = client.call("signerd_requestDelegation", {"grantId": grant["id"]})
    delegation = Delegation.from_json(reply["delegation"])
    redeemed = redeem(chain, served.fw, session, delegation, USDC, session.address)

    sock = str(served.daemon.socket_path)
    revoked = signerd_cli("revoke", grant["id"], "--on-chain", "--json", "--socket", sock)
    assert revoked.returncode == 0, revoked.stderr
    record = json.loads(revoked.stdout)
    assert record["disableTx"].startswith("0x") and record["disabledAt"] is not None
    manager = contract(chain.w3, "DelegationManager", served.fw.manager)
    assert manager.functions.disabledDelegations(bytes.fromhex(reply["hash"][2:])).call()
    with pytest.raises(ContractLogicError, match=DISABLED):
        redeem(chain, served.fw, session, delegation, 1, session.address)
    assert usdc_balance(chain.w3, chain.usdc, session.address) == USDC
    with Client(served.daemon.socket_path) as client:
        assert client.get_grant(grant["id"])["status"] == "revoked"
        assert client.call("signerd_getDelegation", {"grantId": grant["id"]}) == record
    assert "disableDelegation" in revoked.stderr
    record_property("transactions", {"redeem": redeemed, "disable": record["disableTx"]})
    record_property("told", revoked.stderr)
    record_property("screens", served.device.screen_text()[-2500:])


def test_erc7715_round_trip(chain: Chain, served: Served, record_property: Any) -> None:
    """Request an erc20-token-periodic permission; its context redeems within the period's
    amount only; it is listed as granted; revoked, it no longer redeems nor is listed."""
    session = new_session(chain)
    chain_id = hex(chain.usdc.chain_id)
    request = {
        "chainId": chain_id,
        "to": session.address,
        "permission": {
            "type": "erc20-token-periodic",
            "isAdjustmentAllowed": False,
            "data": {
                "tokenAddress": chain.usdc.address,
                "periodAmount": hex(CAP),
                "periodDuration": DAY,
                "startTime": chain_now(chain.w3) - 60,
                "justification": "top up the x402 float",
            },
        },
        "rules": [{"type": "expiry", "data": {"timestamp": chain_now(chain.w3) + 7 * DAY}}],
    }
    with Client(served.daemon.socket_path) as client:
        supported = client.call("wallet_getSupportedExecutionPermissions", [])
        assert supported["erc20-token-periodic"] == {
            "chainIds": [chain_id],
            "ruleTypes": ["expiry"],
        }
        (granted,) = client.call("wallet_requestExecutionPermissions", [request])
        assert granted == {
            **request,
            "from": served.account,
            "context": granted["context"],
            "dependencies": [],
            "delegationManager": served.fw.manager,
        }
        listed = client.call("wallet_getGrantedExecutionPermissions", [])
        assert granted["context"] in [p["context"] for p in listed]

    context = bytes.fromhex(granted["context"][2:])
    transfer = erc20_transfer(chain.usdc.address, session.address, 2 * USDC)
    tx = execute_context(chain, served.fw, session, context, transfer)
    assert usdc_balance(chain.w3, chain.usdc, session.address) == 2 * USDC
    with pytest.raises(ContractLogicError, match="transfer-amount-exceeded"):
        execute_context(chain, served.fw, session, context, transfer)

    with Client(served.daemon.socket_path) as client:
        revoked = client.call(
            "wallet_revokeExecutionPermission", [{"permissionContext": granted["context"]}]
        )
        assert revoked == {}
        listed = client.call("wallet_getGrantedExecutionPermissions", [])
        assert granted["context"] not in [p["context"] for p in listed]
    one = erc20_transfer(chain.usdc.address, session.address, 1)
    with pytest.raises(ContractLogicError, match=DISABLED):
        execute_context(chain, served.fw, session, context, one)
    record_property("erc7715_redeem_tx", tx)


def test_a_held_key_tops_up_its_float_through_the_delegation(chain: Chain, served: Served) -> None:
    """custody "daemon": the agent never sees the session key; the daemon redeems the
    delegation to move USDC from the person's account to that key, within the cap only."""
    params = grant_params(chain, "")
    del params["sessionKey"]
    with Client(served.daemon.socket_path) as client:
        grant = client.request_grant(custody="daemon", **params)["grant"]
        client.call("signerd_requestDelegation", {"grantId": grant["id"]})
        session = grant["typedData"]["message"]["sessionKey"]
        fund_eth(chain.w3, session, 10**17)  # the delegate pays its redemption's gas
        topped = client.call("signerd_topUp", {"grantId": grant["id"], "amount": str(2 * USDC)})
        assert topped["to"] == session and topped["tx"].startswith("0x")
        assert usdc_balance(chain.w3, chain.usdc, session) == 2 * USDC
        with pytest.raises(ChainError, match="transfer-amount-exceeded"):
            client.call("signerd_topUp", {"grantId": grant["id"], "amount": str(2 * USDC)})
    assert usdc_balance(chain.w3, chain.usdc, session) == 2 * USDC


def test_dependencies_deploy_an_account_that_does_not_exist_yet(
    chain: Chain, served: Served
) -> None:
    """An ERC-7715 response's `dependencies` for an owner without an account: sending the
    factoryData to the factory creates the account the delegation names; then none."""
    config = load_config(served.config).chain(chain.usdc.chain_id)
    owner = Account.create().address
    account = person_account(config, owner)
    (dependency,) = asyncio.run(dependencies(config, owner, account))
    assert dependency["factory"] == served.fw.factory
    tx: Any = {"from": chain.w3.eth.accounts[0], "to": dependency["factory"]}
    tx["data"] = dependency["factoryData"]
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_transaction(tx), timeout=10)
    assert contract(chain.w3, "HybridDeleGator", account).functions.owner().call() == owner
    assert asyncio.run(dependencies(config, owner, account)) == []
