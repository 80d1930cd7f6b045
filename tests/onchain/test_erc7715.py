"""ERC-7715 requests as grant requests (signerd/onchain/erc7715.py), pure."""

from __future__ import annotations

from typing import Any

import pytest

from signerd.onchain.caveats import NATIVE
from signerd.onchain.erc7715 import parse_requests, permission_of_grant

NOW = 1_800_000_000
TOKEN = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
SESSION = "0x2222222222222222222222222222222222222222"


def request(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "chainId": "0x2105",
        "to": SESSION.lower(),
        "permission": {"type": kind, "isAdjustmentAllowed": True, "data": data},
        "rules": [{"type": "expiry", "data": {"timestamp": NOW + 3600}}],
    }


@pytest.mark.parametrize(
    ("kind", "data", "token", "amount", "period"),
    [
        (
            "erc20-token-periodic",
            {"tokenAddress": TOKEN, "periodAmount": "0x64", "periodDuration": 60},
            TOKEN,
            100,
            60,
        ),
        (
            "native-token-periodic",
            {"periodAmount": "0x10", "periodDuration": 86400},
            NATIVE,
            16,
            86400,
        ),
        (
            "erc20-token-allowance",
            {"tokenAddress": TOKEN.lower(), "allowanceAmount": "0x5"},
            TOKEN,
            5,
            0,
        ),
        ("native-token-allowance", {"allowanceAmount": "0x1", "startTime": NOW + 5}, NATIVE, 1, 0),
    ],
)
def test_each_type_is_one_allowance_and_comes_back(
    kind: str, data: dict[str, Any], token: str, amount: int, period: int
) -> None:
    (parsed,) = parse_requests([request(kind, data)], now=NOW)
    params = parsed.grant_params()
    assert params["chainId"] == 8453 and params["sessionKey"] == SESSION
    assert params["allowances"] == [{"token": token, "amount": str(amount), "period": period}]
    assert params["validAfter"] == data.get("startTime", NOW)
    assert params["validUntil"] == NOW + 3600
    message = {**params, "allowances": params["allowances"]}
    again, again_data, rules = permission_of_grant(message)
    assert again == kind
    assert rules == [{"type": "expiry", "data": {"timestamp": NOW + 3600}}]
    amount_key = "periodAmount" if "periodic" in kind else "allowanceAmount"
    assert int(again_data[amount_key], 16) == amount
