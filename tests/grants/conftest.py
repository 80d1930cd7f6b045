"""Fixtures for the grant tests: fixed keys, a fixed clock, a valid request and its signed grant."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from signerd.grants import (
    ZERO_ADDRESS,
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
)
from tests.support import NOW_SECONDS, TARGET_A, TARGET_B, USDC_BASE


@pytest.fixture(scope="session")
def now() -> int:
    return NOW_SECONDS


@pytest.fixture(scope="session")
def master() -> LocalAccount:
    account: LocalAccount = Account.from_key(b"\x01" * 32)
    return account


@pytest.fixture(scope="session")
def other() -> LocalAccount:
    account: LocalAccount = Account.from_key(b"\x03" * 32)
    return account


@pytest.fixture(scope="session")
def session_key() -> str:
    address: str = Account.from_key(b"\x02" * 32).address
    return address


@pytest.fixture
def request_json(session_key: str) -> dict[str, Any]:
    """A valid request on Base: 10 USDC/day and 0.5 ETH in total, two targets, one week."""
    return {
        "chainId": 8453,
        "sessionKey": session_key,
        "agent": "weather-bot",
        "allowances": [
            {"token": USDC_BASE, "amount": "10000000", "period": 86400},
            {"token": ZERO_ADDRESS, "amount": 500000000000000000, "period": 0},
        ],
        "targets": [TARGET_A, TARGET_B],
        "validAfter": NOW_SECONDS,
        "validFor": 7 * 86400,
    }


@pytest.fixture
def make_grant(
    master: LocalAccount,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Request JSON -> signed grant document as an agent receives it (after a JSON round trip)."""

    def make(request: dict[str, Any]) -> dict[str, Any]:
        req = parse_grant_request(request, now=NOW_SECONDS)
        agent = agent_description(req.label, 1000, 4242, "/usr/bin/python3")
        typed = build_grant_typed_data(req, account=master.address, agent=agent, nonce=7)
        signature = Account.sign_typed_data(master.key, full_message=typed).signature
        document = signed_grant(typed, bytes(signature), master.address)
        loaded: dict[str, Any] = json.loads(json.dumps(document))
        return loaded

    return make


@pytest.fixture
def grant(
    make_grant: Callable[[dict[str, Any]], dict[str, Any]], request_json: dict[str, Any]
) -> dict[str, Any]:
    return make_grant(request_json)
