"""The payment half of `make demo`: an agent pays for x402 calls within a held-key grant.

On a local chain (anvil, with Circle's USDC deployed) an x402 shop sells a weather report for
0.01 USDC. The person approves, on the simulated device, a grant whose session key the daemon
holds: 0.03 USDC a day, to the shop only. The agent buys with `signerd pay` until the budget
is spent; the next purchase is refused by signerd before anything is signed. The ledger, the
budget and the chain are printed side by side.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from emulator.chain import AnvilProcess, connect, deploy_usdc, fund_eth, mint_usdc, usdc_balance
from examples.x402_server import PAID_PATH, make_app, serve_in_thread
from signerd.client import Client

PRICE = 10_000  # 0.01 USDC (6 decimals)
CALLS = 3  # the daily budget buys this many


def signerd(socket_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "signerd.cli", *args, "--socket", str(socket_path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def pay_story(socket_path: Path, workdir: Path) -> bool:
    """Run the story against the daemon at ``socket_path``; True if every step went right."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the shop's access log
    print("== starting a local chain (anvil) with Circle's USDC")
    with AnvilProcess(log_path=workdir / "anvil.log") as anvil:
        w3 = connect(anvil.rpc_url)
        usdc = deploy_usdc(w3)
        shop_owner = Account.create().address
        facilitator = Account.create()
        fund_eth(w3, facilitator.address, 10**18)
        app = make_app(
            anvil.rpc_url, usdc, shop_owner, PRICE, facilitator_key=facilitator.key.hex()
        )
        with serve_in_thread(app) as shop:
            print(f"== an x402 shop at {shop.url}{PAID_PATH} sells for {PRICE / 1e6} USDC")
            grant = request_held_grant(socket_path, usdc.address, usdc.chain_id, shop_owner)
            session = grant["typedData"]["message"]["sessionKey"]
            print(f"== the daemon holds the session key {session}; the agent never sees it")
            mint_usdc(w3, usdc, session, 10 * PRICE)
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
                f"== on chain: the session key went {before[0]} -> {after[0]}, the shop "
                f"{before[1]} -> {after[1]} (base units); the ledger says {spent}"
            )
            return paid == CALLS and after[0] == before[0] - spent and after[1] == before[1] + spent


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
