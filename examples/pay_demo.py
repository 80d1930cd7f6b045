"""The payment half of `make demo`: both layers of limits, on a local chain.

On anvil, with Circle's USDC and MetaMask's Delegation Framework deployed (`demo_chain`), the
person's account is a HybridDeleGator owned by the simulated Trezor's address, holding 1
USDC. An x402 shop sells a weather report for 0.01 USDC. The person approves, on the device,
a grant whose session key the daemon holds (0.03 USDC a day, to the shop only), then its
delegation: the same limit, enforced by the contracts. The daemon tops up the session key's
float by redeeming the delegation; a second top-up beyond the day's amount is refused by the
contracts (on-chain ceiling). The agent buys with `signerd pay` until the budget is spent;
the next purchase is refused by signerd before anything is signed (off-chain budget).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from emulator.chain import (
    AnvilProcess,
    Token,
    connect,
    deploy_usdc,
    fund_eth,
    mint_usdc,
    usdc_balance,
)
from emulator.delegation_framework import chains_toml, deploy_account, deploy_framework
from emulator.keys import MASTER_ADDRESS
from examples.x402_server import PAID_PATH, make_app, serve_in_thread
from signerd.client import Client
from signerd.errors import ChainError

PRICE = 10_000  # 0.01 USDC (6 decimals)
CALLS = 3  # the daily budget buys this many


@dataclass(frozen=True)
class DemoChain:
    rpc_url: str
    w3: Web3
    usdc: Token
    account: str  # the person's HybridDeleGator
    config: str  # signerd.toml: the token's name and the chain's [[chains]] entry


@contextmanager
def demo_chain(workdir: Path) -> Iterator[DemoChain]:
    """anvil with USDC, the Delegation Framework and the person's funded account."""
    print(
        "== starting a local chain (anvil) with Circle's USDC and MetaMask's Delegation Framework"
    )
    with AnvilProcess(log_path=workdir / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url)
        usdc = deploy_usdc(w3)
        fw = deploy_framework(w3)
        account = deploy_account(w3, fw, MASTER_ADDRESS)
        mint_usdc(w3, usdc, account, 100 * PRICE)
        fund_eth(w3, account, 10**18)
        relayer = Account.create()
        fund_eth(w3, relayer.address, 10**18)
        (workdir / "relayer.key").write_text(relayer.key.hex())
        tokens = (
            f'[[tokens]]\nchain = {usdc.chain_id}\naddress = "{usdc.address}"\n'
            'symbol = "USDC"\ndecimals = 6\n'
        )
        config = tokens + chains_toml(fw, anvil.rpc_url, str(workdir / "relayer.key"))
        print(f"== the person's account {account} (owner {MASTER_ADDRESS}) holds 1 USDC")
        yield DemoChain(anvil.rpc_url, w3, usdc, account, config)


def signerd(socket_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "signerd.cli", *args, "--socket", str(socket_path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def pay_story(socket_path: Path, chain: DemoChain) -> bool:
    """Run the story against the daemon at ``socket_path``; True if every step went right."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the shop's access log
    w3, usdc = chain.w3, chain.usdc
    shop_owner = Account.create().address
    facilitator = Account.create()
    fund_eth(w3, facilitator.address, 10**18)
    app = make_app(chain.rpc_url, usdc, shop_owner, PRICE, facilitator_key=facilitator.key.hex())
    with serve_in_thread(app) as shop:
        print(f"== an x402 shop at {shop.url}{PAID_PATH} sells for {PRICE / 1e6} USDC")
        grant = request_held_grant(socket_path, usdc.address, usdc.chain_id, shop_owner)
        session = grant["typedData"]["message"]["sessionKey"]
        print(f"== the daemon holds the session key {session}; the agent never sees it")
        fund_eth(w3, session, 10**17)  # ether for the gas of its top-ups
        ceiling = top_up_twice(socket_path, grant["id"])
        before = usdc_balance(w3, usdc, session), usdc_balance(w3, usdc, shop_owner)
        paid = 0
        for call in range(1, CALLS + 2):
            result = signerd(socket_path, "pay", shop.url + PAID_PATH, "--grant", grant["id"])
            outcome = result.stdout.strip() or result.stderr.strip().splitlines()[-1]
            print(f"== purchase {call}: exit {result.returncode}: {outcome}")
            paid += result.returncode == 0
        print(signerd(socket_path, "budget", grant["id"]).stdout.rstrip())
        print(signerd(socket_path, "spends", "--grant", grant["id"]).stdout.rstrip())
        after = usdc_balance(w3, usdc, session), usdc_balance(w3, usdc, shop_owner)
        spent = CALLS * PRICE
        print(
            f"== on chain: the person's account holds {usdc_balance(w3, usdc, chain.account)}, "
            f"the session key went {before[0]} -> {after[0]}, the shop {before[1]} -> "
            f"{after[1]} (base units); the ledger says {spent}"
        )
        return (
            ceiling
            and paid == CALLS
            and after[0] == before[0] - spent
            and after[1] == before[1] + spent
        )


def top_up_twice(socket_path: Path, grant_id: str) -> bool:
    """The daemon refills the float within the delegation; then beyond it, refused on chain."""
    with Client(socket_path) as client:
        print("== the person approves the grant's delegation on the device (second approval)")
        delegation = client.call(
            "signerd_requestDelegation",
            {"grantId": grant_id},
            on_progress=lambda line: print(f"   device: {line}"),
        )
        print(f"== delegation {delegation['hash']} from {delegation['delegator']}")
        amount = str(CALLS * PRICE)
        topped = client.call("signerd_topUp", {"grantId": grant_id, "amount": amount})
        print(f"== top-up: {amount} base units to the session key in {topped['tx']}")
        try:
            client.call("signerd_topUp", {"grantId": grant_id, "amount": str(PRICE)})
        except ChainError as exc:
            print(f"== a second top-up today is refused by the contracts: {exc.message}")
            return True
    print("== the second top-up was NOT refused")
    return False


def request_held_grant(socket_path: Path, token: str, chain_id: int, payee: str) -> Any:
    now = int(time.time())
    params = {
        "agent": "weather-shopper",
        "custody": "daemon",
        "chainId": chain_id,
        "allowances": [{"token": token, "amount": str(CALLS * PRICE), "period": 86400}],
        "payees": [payee],
        "targets": [],
        "validAfter": now - 60,
        "validUntil": now + 3600,
    }
    print("== the agent asks for a held-key grant; the person approves it on the device")
    with Client(socket_path) as client:
        reply = client.request_grant(on_progress=lambda line: print(f"   device: {line}"), **params)
    grant = reply["grant"]
    print(f"== approved: {json.dumps(grant['typedData']['message']['summary'])}")
    return grant
