"""Grants signed under schema version 1 keep verifying under version 1's rules.

``data/v1_grant.json`` was made by the version 1 code (commit 18229db) and is kept byte for
byte: a signed grant a person approved then must still verify now.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from signerd.grants import grant_digest, verify_grant
from signerd.grants.v1 import DOMAIN_NAME_V1, DOMAIN_VERSION_V1, TYPES_V1, summarize_v1

NOW = 1_780_000_000
V1_GRANT = Path(__file__).parent / "data" / "v1_grant.json"


@pytest.fixture
def v1_grant() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(V1_GRANT.read_text())
    return loaded


def test_a_version_1_grant_still_verifies(v1_grant: dict[str, Any], master: LocalAccount) -> None:
    result = verify_grant(v1_grant, expected_signer=master.address, now=NOW + 10)
    assert result.valid, result.detail
    assert result.grant_id == v1_grant["id"]
    assert v1_grant["typedData"]["message"]["summary"] == (
        "Key 0x5050..3c9c may spend 10 USDC/day, 0.5 ETH total; 1 contract; "
        "until 2026-06-04 20:26:40 UTC"
    )
    assert verify_grant(v1_grant, now=NOW + 8 * 86400).reason == "expired"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (
            lambda t: t["message"].update(summary="Key 0x5050..3c9c may spend 1 USDC/day"),
            "summary_mismatch",
        ),
        (lambda t: t["message"]["allowances"][0].update(amount=1), "summary_mismatch"),
        (lambda t: t["domain"].update(name="signer"), "malformed"),
        (lambda t: t["domain"].update(version="2"), "malformed"),
        (lambda t: t["message"].update(nonce=8), "bad_signature"),
    ],
)
def test_version_1_rules_still_apply(v1_grant: dict[str, Any], edit: Any, reason: str) -> None:
    edit(v1_grant["typedData"])
    assert verify_grant(v1_grant, now=NOW + 10).reason == reason


def test_version_1_summaries_that_counted_allowances_still_verify(master: LocalAccount) -> None:
    """Version 1 let "+1 more" stand for an amount; those grants were approved, so they stay
    valid under version 1's rules (version 2 refuses to make them)."""
    message = {
        "account": master.address,
        "sessionKey": "0x5050A4F4b3f9338C3472dcC01A87C76A144b3c9c",
        "agent": "x (uid 1000)",
        "summary": "",
        "allowances": [
            {
                "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "amount": 10**6,
                "period": 86400,
            },
            {"token": "0x" + "0" * 40, "amount": 2**256 - 1, "period": 0},
        ],
        "targets": [],
        "validAfter": NOW,
        "validUntil": NOW + 3600,
        "nonce": 1,
    }
    message["summary"] = summarize_v1(message, 8453)
    assert message["summary"].startswith("Key 0x5050..3c9c may spend 1 USDC/day, +1 more;")
    typed = {
        "types": copy.deepcopy(TYPES_V1),
        "primaryType": "SessionGrant",
        "domain": {"name": DOMAIN_NAME_V1, "version": DOMAIN_VERSION_V1, "chainId": 8453},
        "message": message,
    }
    signed = Account.sign_typed_data(master.key, full_message=typed)
    assert grant_digest(typed) == bytes(signed.message_hash)
    document = {
        "id": "0x" + grant_digest(typed).hex(),
        "typedData": typed,
        "signature": "0x" + bytes(signed.signature).hex(),
        "signer": master.address,
    }
    assert verify_grant(json.loads(json.dumps(document)), now=NOW + 1).valid
