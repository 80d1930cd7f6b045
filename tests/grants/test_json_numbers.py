"""Integers beyond 2^53 - 1 as decimal strings (signerd.jsonsafe): the same digest for
eth-account and for signerd, and a grant written that way verifies to the same id."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from signerd import errors
from signerd.grants import (
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
    verify_grant,
)
from signerd.grants.typed_data import grant_digest
from signerd.jsonsafe import MAX_SAFE_INTEGER, js_safe
from signerd.rpc import protocol
from tests.support import NOW_SECONDS

NONCE = 15340456358815673520  # what JSON.parse reads as 15340456358815674000
BIG_AMOUNT = 5 * 10**17  # 0.5 ETH in wei: past 2^53 too


def eth_account_digest(typed: dict[str, Any]) -> bytes:
    signable = encode_typed_data(full_message=copy.deepcopy(typed))
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def test_only_integers_beyond_the_safe_range_become_strings() -> None:
    value = {
        "small": MAX_SAFE_INTEGER,
        "negative": -MAX_SAFE_INTEGER,
        "big": MAX_SAFE_INTEGER + 1,
        "below": -MAX_SAFE_INTEGER - 1,
        "flag": True,
        "nested": [{"nonce": NONCE}, 1.5, "text", None],
    }
    assert js_safe(value) == {
        "small": MAX_SAFE_INTEGER,
        "negative": -MAX_SAFE_INTEGER,
        "big": "9007199254740992",
        "below": "-9007199254740992",
        "flag": True,
        "nested": [{"nonce": "15340456358815673520"}, 1.5, "text", None],
    }
    unchanged = {"a": [1, 2, {"b": "c"}]}
    assert js_safe(unchanged) is unchanged


@pytest.mark.parametrize(
    "message",
    [
        lambda value: protocol.result_message(7, value),
        lambda value: protocol.notification_message("signerd_progress", value),
    ],
)
def test_socket_messages_carry_big_integers_as_strings(
    message: Callable[[Any], bytes],
) -> None:
    # The encoder walks a value only when its line could hold a big integer: both ways agree.
    for value in (
        {"nonce": NONCE, "list": [BIG_AMOUNT, -BIG_AMOUNT], "id": "0x1234567890123456789"},
        {"limit": MAX_SAFE_INTEGER, "label": "[9007199254740993]", "f": 1e16},
        {"amount": "9007199254740993"},
    ):
        decoded = json.loads(message(value))
        assert decoded.get("result", decoded.get("params")) == js_safe(value)


def test_an_error_message_carries_big_integers_as_strings() -> None:
    error = errors.BudgetExceeded("over", {"remaining": BIG_AMOUNT, "spent": 3})
    decoded = json.loads(protocol.error_message(NONCE, error))
    assert decoded["id"] == NONCE  # echoed exactly as sent
    assert decoded["error"]["data"]["remaining"] == str(BIG_AMOUNT)
    assert decoded["error"]["data"]["spent"] == 3


def test_decimal_strings_hash_to_the_same_digest(
    request_json: dict[str, Any], master: LocalAccount
) -> None:
    req = parse_grant_request(request_json, now=NOW_SECONDS)
    agent = agent_description(req.label, 1000, 4242, "/usr/bin/python3")
    typed = build_grant_typed_data(req, account=master.address, agent=agent, nonce=NONCE)
    assert typed["message"]["allowances"][1]["amount"] == BIG_AMOUNT
    as_strings = js_safe(typed)
    assert as_strings["message"]["nonce"] == str(NONCE)
    assert as_strings["message"]["allowances"][1]["amount"] == str(BIG_AMOUNT)
    digest = grant_digest(typed)
    assert eth_account_digest(as_strings) == eth_account_digest(typed) == digest

    signature = bytes(Account.sign_typed_data(master.key, full_message=as_strings).signature)
    document = js_safe(signed_grant(typed, signature, master.address))
    for form in (document, signed_grant(typed, signature, master.address)):
        check = verify_grant(form, expected_signer=master.address, now=NOW_SECONDS + 1)
        assert check.valid, check.detail
        assert check.grant_id == "0x" + digest.hex()
