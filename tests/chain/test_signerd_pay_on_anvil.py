"""`signerd pay` on real parts: x402's own client signing through signerd's socket, Circle's
USDC on anvil, x402's Flask middleware and in-process facilitator settling each payment.

The first test runs signerd's socket server and payment flow in process (an approving
FakeSigner, the session key supplied by the test); the second runs `signerd serve` on the
simulated Trezor with a key the daemon holds, sealed under the device's CipherKeyValue.
Everything from the socket outwards is what an agent runs. The agent buys until the grant's
budget is spent; the next purchase is refused by signerd before anything is signed; on-chain
balances move by exactly the ledger's spends; after a revocation the next payment is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from emulator.chain import mint_usdc, usdc_balance
from emulator.trezor.launch import TrezorSimulatorProcess
from examples.x402_server import PAID_PATH, ServedApp, make_app, serve_in_thread
from signerd.client import Client
from signerd.launch import DaemonProcess
from tests.chain.conftest import PRICE, Chain
from tests.payments.factories import new_key, payment_grant_params
from tests.payments.harness import ServedDaemon
from tests.support import signerd_cli

CALLS = 3  # the grant's daily budget buys this many calls


@pytest.fixture(scope="module")
def payee() -> str:
    return str(Account.create().address)


@pytest.fixture(scope="module")
def shop(chain: Chain, payee: str, facilitator_key: str) -> Iterator[ServedApp]:
    app = make_app(chain.anvil.rpc_url, chain.usdc, payee, PRICE, facilitator_key=facilitator_key)
    with serve_in_thread(app) as served:
        yield served


def test_agent_pays_until_the_budget_is_spent(
    chain: Chain, shop: ServedApp, payee: str, tmp_path: Path
) -> None:
    key = new_key()
    session = key.public_key.to_checksum_address()
    mint_usdc(chain.w3, chain.usdc, session, 10 * PRICE)  # more than the grant allows
    allowance = {
        "token": chain.usdc.address,
        "amount": str(CALLS * PRICE),
        "period": 86400,
    }  # no maxPerPayment: with it the summary of an unnamed token is too long for a screen
    with ServedDaemon(tmp_path, key) as daemon:
        sock = str(daemon.socket_path)
        with Client(daemon.socket_path) as client:
            params = payment_grant_params(
                session, chainId=chain.usdc.chain_id, allowances=[allowance], payees=[payee]
            )
            grant_id = client.request_grant(**params)["grant"]["id"]
        payer_before = usdc_balance(chain.w3, chain.usdc, session)
        payee_before = usdc_balance(chain.w3, chain.usdc, payee)

        for _ in range(CALLS):
            paid = signerd_cli("pay", shop.url + PAID_PATH, "--grant", grant_id, "--socket", sock)
            assert paid.returncode == 0, paid.stderr
            assert json.loads(paid.stdout) == {"forecast": "sunny", "price": str(PRICE)}

        over = signerd_cli(
            "pay", shop.url + PAID_PATH, "--grant", grant_id, "--socket", sock, "--json"
        )
        assert over.returncode == 6  # refused (README, "Exit codes")
        error = json.loads(over.stderr.strip().splitlines()[-1])["error"]
        assert (error["name"], error["code"]) == ("BUDGET_EXCEEDED", -32050)

        spent = CALLS * PRICE
        assert usdc_balance(chain.w3, chain.usdc, session) == payer_before - spent
        assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before + spent

        listed = json.loads(
            signerd_cli("spends", "--grant", grant_id, "--json", "--socket", sock).stdout
        )
        assert [s["status"] for s in listed["spends"]] == ["committed"] * CALLS
        assert sum(int(s["amount"]) for s in listed["spends"]) == spent
        budget = json.loads(signerd_cli("budget", grant_id, "--json", "--socket", sock).stdout)
        [standing] = budget["allowances"]
        assert (standing["spent"], standing["remaining"]) == (str(spent), "0")
        text = signerd_cli("budget", grant_id, "--socket", sock)
        assert f"spent {spent}" in text.stdout, text.stderr

        # A mistyped URL is the user's input, not an unreachable shop.
        typo = signerd_cli("pay", "shop/weather", "--grant", grant_id, "--socket", sock, "--json")
        assert typo.returncode == 2
        assert json.loads(typo.stderr.strip().splitlines()[-1])["error"]["name"] == "INVALID_URL"

        signerd_cli("revoke", grant_id, "--socket", sock, check=True)
        revoked = signerd_cli(
            "pay", shop.url + PAID_PATH, "--grant", grant_id, "--socket", sock, "--json"
        )
        assert revoked.returncode == 6
        assert json.loads(revoked.stderr.strip().splitlines()[-1])["error"]["name"] == (
            "GRANT_REVOKED"
        )
        assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before + spent


def test_the_real_daemon_pays_with_a_key_it_holds(
    chain: Chain, shop: ServedApp, payee: str, tmp_path: Path
) -> None:
    """`signerd serve` on the simulated Trezor: the person approves a held-key grant (and the
    unlock of the daemon's key store) on the device; the agent never sees the session key
    and pays with x402 until the budget is spent; the chain agrees with the ledger."""
    allowance = {"token": chain.usdc.address, "amount": str(CALLS * PRICE), "period": 86400}
    with (
        TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device,
        DaemonProcess(device.path, tmp_path) as daemon,
    ):
        sock = str(daemon.socket_path)
        with Client(daemon.socket_path) as client:
            params = payment_grant_params(
                "", chainId=chain.usdc.chain_id, allowances=[allowance], payees=[payee]
            )
            del params["sessionKey"]
            reply = client.request_grant(custody="daemon", **params)
        assert "sessionPrivateKey" not in reply
        grant_id = reply["grant"]["id"]
        session = reply["grant"]["typedData"]["message"]["sessionKey"]
        mint_usdc(chain.w3, chain.usdc, session, 10 * PRICE)  # more than the grant allows
        payer_before = usdc_balance(chain.w3, chain.usdc, session)
        payee_before = usdc_balance(chain.w3, chain.usdc, payee)

        for _ in range(CALLS):
            paid = signerd_cli("pay", shop.url + PAID_PATH, "--grant", grant_id, "--socket", sock)
            assert paid.returncode == 0, paid.stderr
        over = signerd_cli(
            "pay", shop.url + PAID_PATH, "--grant", grant_id, "--socket", sock, "--json"
        )
        assert over.returncode == 6  # refused (README, "Exit codes")
        error = json.loads(over.stderr.strip().splitlines()[-1])["error"]
        assert error["name"] == "BUDGET_EXCEEDED"

        spent = CALLS * PRICE
        assert usdc_balance(chain.w3, chain.usdc, session) == payer_before - spent
        assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before + spent
        listed = json.loads(
            signerd_cli("spends", "--grant", grant_id, "--json", "--socket", sock).stdout
        )
        assert sum(int(s["amount"]) for s in listed["spends"]) == spent
