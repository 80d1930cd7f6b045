"""The delegation through the real daemon: `signerd serve` on the simulated Trezor, MetaMask's
Delegation Framework on anvil. The agent asks for a grant, then for its delegation; the person
approves both on the device (the daemon's progress message says what each caveat's hex
terms mean); the agent gets a signed delegation that redeems within the cap and no further,
and `signerd_getDelegation` returns the same one later."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractLogicError

from emulator.chain import fund_eth, mint_usdc, usdc_balance
from emulator.delegation_framework import Framework, chains_toml, deploy_account, deploy_framework
from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.errors import ChainNotConfigured
from signerd.launch import DaemonProcess
from signerd.onchain.delegation import Delegation
from tests.chain.conftest import Chain
from tests.chain.redeem import chain_now, redeem

USDC = 1_000_000
DAY = 86_400
CAP = 3 * USDC


@dataclass
class Served:
    fw: Framework
    account: str
    device: TrezorSimulatorProcess
    daemon: DaemonProcess


def daemon_config(chain: Chain, fw: Framework) -> str:
    tokens = (
        f'[[tokens]]\nchain = {chain.usdc.chain_id}\naddress = "{chain.usdc.address}"\n'
        'symbol = "USDC"\ndecimals = 6\n'
    )
    return tokens + chains_toml(fw, chain.anvil.rpc_url)


@pytest.fixture(scope="module")
def served(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    fw = deploy_framework(chain.w3)
    account = deploy_account(chain.w3, fw, MASTER_ADDRESS)
    mint_usdc(chain.w3, chain.usdc, account, 10 * USDC)
    work = tmp_path_factory.mktemp("daemon")
    with (
        TrezorSimulatorProcess(auto="approve", log_path=work / "sim.log") as device,
        DaemonProcess(device.path, work, config=daemon_config(chain, fw)) as daemon,
    ):
        yield Served(fw, account, device, daemon)


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
