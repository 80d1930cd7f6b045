"""x402 payments end to end on real parts, without signerd: anvil, Circle's FiatTokenV2_2,
x402's own Flask middleware and in-process facilitator, and x402's own requests client.

Proves the infrastructure the daemon's payment path is tested against: a payer's EIP-3009
authorization settles on chain, balances move by exactly the price, and a payer without funds
is refused with 402.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from x402 import x402ClientSync
from x402.http import decode_payment_required_header, decode_payment_response_header
from x402.http.clients import wrapRequestsWithPayment
from x402.mechanisms.evm import TypedDataDomain, TypedDataField
from x402.mechanisms.evm.exact import ExactEvmClientScheme

from emulator.chain import mint_usdc, usdc_balance, usdc_contract
from examples.x402_server import PAID_PATH, ServedApp, make_app, serve_in_thread
from tests.chain.conftest import PRICE, Chain

# Bounds every HTTP wait: a settlement on anvil takes milliseconds.
HTTP_TIMEOUT = 30.0


class RecordingSigner:
    """x402's ClientEvmSigner over a plain eth-account key, keeping what it was asked to sign
    (the shape signerd's socket-backed signer will receive)."""

    def __init__(self, account: LocalAccount) -> None:
        self._account = account
        self.requests: list[
            tuple[TypedDataDomain, dict[str, list[TypedDataField]], str, dict[str, Any]]
        ] = []

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_typed_data(
        self,
        domain: TypedDataDomain,
        types: dict[str, list[TypedDataField]],
        primary_type: str,
        message: dict[str, Any],
    ) -> bytes:
        self.requests.append((domain, types, primary_type, message))
        signed = self._account.sign_typed_data(
            domain_data={
                "name": domain.name,
                "version": domain.version,
                "chainId": domain.chain_id,
                "verifyingContract": domain.verifying_contract,
            },
            message_types={
                name: [{"name": f.name, "type": f.type} for f in fields]
                for name, fields in types.items()
            },
            message_data=message,
        )
        return bytes(signed.signature)


@pytest.fixture(scope="module")
def payee() -> str:
    return str(Account.create().address)


@pytest.fixture(scope="module")
def shop(chain: Chain, payee: str, facilitator_key: str) -> Iterator[ServedApp]:
    app = make_app(chain.anvil.rpc_url, chain.usdc, payee, PRICE, facilitator_key=facilitator_key)
    with serve_in_thread(app) as served:
        yield served


def paying_session(signer: RecordingSigner, chain: Chain) -> requests.Session:
    """x402's own requests integration; the test token is opted in to the client's spend
    controls (by default x402 pays only in the assets of its built-in table)."""
    client = x402ClientSync()
    client.register(chain.usdc.network, ExactEvmClientScheme(signer))
    client.set_spend_controls(
        {"allowed_assets": [{"network": chain.usdc.network, "asset": chain.usdc.address}]}
    )
    return wrapRequestsWithPayment(requests.Session(), client)


def test_token_domain_is_what_the_contract_hashes(chain: Chain) -> None:
    usdc = chain.usdc
    assert (usdc.name, usdc.version, usdc.decimals, usdc.chain_id) == ("USD Coin", "2", 6, 31337)
    typehash = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                typehash,
                keccak(text=usdc.name),
                keccak(text=usdc.version),
                usdc.chain_id,
                usdc.address,
            ],
        )
    )
    assert usdc_contract(chain.w3, usdc).functions.DOMAIN_SEPARATOR().call() == expected


def test_unpaid_request_gets_payment_requirements(
    chain: Chain, shop: ServedApp, payee: str
) -> None:
    response = requests.get(shop.url + PAID_PATH, timeout=HTTP_TIMEOUT)
    assert response.status_code == 402
    required = decode_payment_required_header(response.headers["PAYMENT-REQUIRED"])
    [accepted] = required.accepts
    assert accepted.scheme == "exact"
    assert accepted.network == chain.usdc.network
    assert accepted.amount == str(PRICE)
    assert accepted.asset == chain.usdc.address
    assert accepted.pay_to == payee
    assert accepted.extra == {"name": "USD Coin", "version": "2"}


def test_agent_pays_for_each_call_on_chain(chain: Chain, shop: ServedApp, payee: str) -> None:
    agent = Account.create()
    mint_usdc(chain.w3, chain.usdc, agent.address, 5 * PRICE)
    signer = RecordingSigner(agent)
    session = paying_session(signer, chain)

    for call in (1, 2):
        payer_before = usdc_balance(chain.w3, chain.usdc, agent.address)
        payee_before = usdc_balance(chain.w3, chain.usdc, payee)
        response = session.get(shop.url + PAID_PATH, timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, response.text
        assert json.loads(response.text) == {"forecast": "sunny", "price": str(PRICE)}
        settled = decode_payment_response_header(response.headers["PAYMENT-RESPONSE"])
        assert settled.success
        assert settled.payer == agent.address
        receipt = chain.w3.eth.get_transaction_receipt(settled.transaction)
        assert receipt["status"] == 1
        assert usdc_balance(chain.w3, chain.usdc, agent.address) == payer_before - PRICE
        assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before + PRICE
        assert len(signer.requests) == call

    # What x402 asks a signer to sign: EIP-3009 TransferWithAuthorization under the token's domain.
    domain, types, primary_type, message = signer.requests[-1]
    assert primary_type == "TransferWithAuthorization"
    assert domain == TypedDataDomain(
        name="USD Coin", version="2", chain_id=31337, verifying_contract=chain.usdc.address
    )
    assert [(f.name, f.type) for f in types["TransferWithAuthorization"]] == [
        ("from", "address"),
        ("to", "address"),
        ("value", "uint256"),
        ("validAfter", "uint256"),
        ("validBefore", "uint256"),
        ("nonce", "bytes32"),
    ]
    assert list(types) == ["TransferWithAuthorization"]
    assert (message["from"], message["to"], message["value"]) == (agent.address, payee, PRICE)
    assert isinstance(message["nonce"], bytes) and len(message["nonce"]) == 32
    # Each payment carries its own nonce, and the token has consumed both.
    nonces = [request[3]["nonce"] for request in signer.requests]
    assert len(set(nonces)) == 2
    token = usdc_contract(chain.w3, chain.usdc)
    assert all(token.functions.authorizationState(agent.address, nonce).call() for nonce in nonces)


def test_unfunded_payer_gets_402_and_nothing_moves(
    chain: Chain, shop: ServedApp, payee: str
) -> None:
    broke = Account.create()
    signer = RecordingSigner(broke)
    payee_before = usdc_balance(chain.w3, chain.usdc, payee)
    response = paying_session(signer, chain).get(shop.url + PAID_PATH, timeout=HTTP_TIMEOUT)
    assert response.status_code == 402
    assert "PAYMENT-RESPONSE" not in response.headers
    # The client signed once; the facilitator's simulation of the transfer refused it.
    assert len(signer.requests) == 1
    refused = decode_payment_required_header(response.headers["PAYMENT-REQUIRED"])
    assert refused.error == "invalid_exact_evm_insufficient_balance"
    assert usdc_balance(chain.w3, chain.usdc, payee) == payee_before
    assert usdc_balance(chain.w3, chain.usdc, broke.address) == 0
