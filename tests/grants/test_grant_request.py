"""Grant request validation: normalisation of good input, and one named field per bad input."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from signerd.errors import ValidationError
from signerd.grants import (
    MAX_WINDOW,
    ZERO_ADDRESS,
    AllowanceSpec,
    GrantRequest,
    parse_grant_request,
)
from signerd.grants.schema import MAX_CHAIN_ID, MAX_TIMESTAMP, UINT256_MAX
from signerd.grants.tokens import TokenInfo, token_table
from tests.support import TARGET_A, TARGET_B, USDC_BASE

PAYEE = "0x3333333333333333333333333333333333333333"


def test_valid_request_is_normalised(
    request_json: dict[str, Any], session_key: str, now: int
) -> None:
    assert parse_grant_request(request_json, now=now) == GrantRequest(
        chain_id=8453,
        session_key=session_key,
        label="weather-bot",
        allowances=(
            AllowanceSpec(USDC_BASE, 10_000_000, 86400, 0, "USDC", 6),
            AllowanceSpec(ZERO_ADDRESS, 500_000_000_000_000_000, 0, 0, "ETH", 18),
        ),
        payees=(),
        targets=(TARGET_A, TARGET_B),
        valid_after=now,
        valid_until=now + 7 * 86400,
        nonce=None,
        received_at=now,
    )


def test_payees_and_per_payment_maximum(request_json: dict[str, Any], now: int) -> None:
    request_json["allowances"][0]["maxPerPayment"] = "500000"
    request_json |= {"payees": [PAYEE], "targets": []}
    req = parse_grant_request(request_json, now=now)
    assert req.allowances[0].max_per_payment == 500_000
    assert req.allowances[1].max_per_payment == 0  # not given: only the window's amount bounds
    assert req.payees == (PAYEE,)
    assert req.summary().startswith(
        "10 USDC/day (max 0.5 each) + 0.5 ETH total on Base; to 0x3333..3333; until "
    )


def test_tokens_are_named_by_the_table_given(request_json: dict[str, Any], now: int) -> None:
    token = "0x9999999999999999999999999999999999999999"
    request_json |= {"chainId": 31337, "targets": []}
    request_json["allowances"] = [{"token": token, "amount": "2500000", "period": 86400}]
    unnamed = parse_grant_request(request_json, now=now)
    assert unnamed.allowances[0] == AllowanceSpec(token, 2_500_000, 86400, 0, "", 0)
    assert unnamed.summary().startswith("2500000 units of 0x9999..9999/day on chain 31337;")
    tokens = token_table([(31337, token, TokenInfo("USDC", 6))], "tokens")
    named = parse_grant_request(request_json, now=now, tokens=tokens)
    assert named.allowances[0] == AllowanceSpec(token, 2_500_000, 86400, 0, "USDC", 6)
    assert named.summary().startswith("2.5 USDC/day on chain 31337;")
    # The daemon names them again with its configured table: the same result.
    assert unnamed.named_by(tokens) == named


def test_largest_chain_id_is_accepted(request_json: dict[str, Any], now: int) -> None:
    request_json |= {"chainId": str(MAX_CHAIN_ID), "targets": []}
    del request_json["allowances"][0]
    req = parse_grant_request(request_json, now=now)
    assert req.chain_id == MAX_CHAIN_ID
    assert req.summary().startswith(f"0.5 native total on chain {MAX_CHAIN_ID}; to anyone;")


def test_defaults_and_string_integers(request_json: dict[str, Any], now: int) -> None:
    del request_json["validAfter"], request_json["validFor"]
    request_json |= {
        "chainId": "1",
        "validUntil": str(now + 60),
        "nonce": str(UINT256_MAX),
        "allowances": [{"token": ZERO_ADDRESS, "amount": str(10**24), "period": "0"}],
        "targets": [],
    }
    req = parse_grant_request(request_json, now=now)
    assert (req.chain_id, req.valid_after, req.valid_until) == (1, now, now + 60)
    assert req.nonce == UINT256_MAX
    assert req.allowances == (AllowanceSpec(ZERO_ADDRESS, 10**24, 0, 0, "ETH", 18),)
    assert req.targets == ()


@pytest.mark.parametrize(
    ("valid_for", "start"),
    [(3600, 1_779_999_960), ("3600", 1_779_999_960), (60, 1_779_999_960), (59, 1_780_000_000)],
)
def test_default_start_is_the_minute_for_a_validity_of_minutes(
    request_json: dict[str, Any], valid_for: int | str, start: int
) -> None:
    """1_780_000_000 is 20:26:40: an hour from 20:26:00 ends at 21:26, written without seconds;
    under a minute it starts now, or it would end before it was asked for."""
    del request_json["validAfter"]
    request_json["validFor"] = valid_for
    req = parse_grant_request(request_json, now=1_780_000_000)
    assert req.valid_after == start
    assert req.valid_until == start + int(valid_for)
    assert req.valid_until > 1_780_000_000


def test_full_window_is_accepted(request_json: dict[str, Any], now: int) -> None:
    request_json["validFor"] = MAX_WINDOW
    assert parse_grant_request(request_json, now=now).valid_until == now + MAX_WINDOW


def test_unchecksummed_address_names_the_checksummed_form(
    request_json: dict[str, Any], session_key: str, now: int
) -> None:
    request_json["sessionKey"] = session_key.lower()
    with pytest.raises(ValidationError) as caught:
        parse_grant_request(request_json, now=now)
    assert caught.value.field == "sessionKey"
    assert session_key in caught.value.message


Mutation = Callable[[dict[str, Any], int], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path (list indexes as numbers) to ``value``."""

    def mutate(data: dict[str, Any], now: int) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(key: str) -> Mutation:
    def mutate(data: dict[str, Any], now: int) -> None:
        del data[key]

    return mutate


def _until(offset: int, *, after: int | None = None) -> Mutation:
    """Replace validFor by validUntil = now + offset (optionally with validAfter = now + after)."""

    def mutate(data: dict[str, Any], now: int) -> None:
        del data["validFor"]
        data["validUntil"] = now + offset
        if after is not None:
            data["validAfter"] = now + after

    return mutate


def _allowances(count: int) -> Mutation:
    def mutate(data: dict[str, Any], now: int) -> None:
        data["allowances"] = [
            {"token": USDC_BASE, "amount": 1, "period": period} for period in range(count)
        ]

    return mutate


def _targets(count: int) -> Mutation:
    def mutate(data: dict[str, Any], now: int) -> None:
        data["targets"] = [f"0x{index + 1:040x}" for index in range(count)]

    return mutate


def _payees(count: int, *, allowances: bool = True) -> Mutation:
    def mutate(data: dict[str, Any], now: int) -> None:
        data["payees"] = [f"0x{index + 1:040x}" for index in range(count)]
        data["targets"] = []
        if not allowances:
            data["allowances"] = []

    return mutate


BAD_REQUESTS: list[tuple[str, Mutation, str]] = [
    ("unknown key", _set("colour", "red"), "colour"),
    ("missing chainId", _delete("chainId"), "chainId"),
    ("chainId bool", _set("chainId", True), "chainId"),
    ("chainId zero", _set("chainId", 0), "chainId"),
    ("chainId hex string", _set("chainId", "0x1"), "chainId"),
    ("chainId float", _set("chainId", 1.0), "chainId"),
    # Reproduced: 2**63 was shown on the device, approved, then refused by the store.
    ("chainId 2**63", _set("chainId", 2**63), "chainId"),
    ("chainId beyond EIP-2294", _set("chainId", MAX_CHAIN_ID + 1), "chainId"),
    ("sessionKey short", _set("sessionKey", "0x1234"), "sessionKey"),
    ("sessionKey zero", _set("sessionKey", ZERO_ADDRESS), "sessionKey"),
    ("sessionKey number", _set("sessionKey", 12), "sessionKey"),
    ("agent empty", _set("agent", ""), "agent"),
    ("agent too long", _set("agent", "a" * 49), "agent"),
    ("agent control char", _set("agent", "bad\nbot"), "agent"),
    ("agent non-ASCII", _set("agent", "m\u00e9t\u00e9o"), "agent"),
    ("agent padded", _set("agent", " bot"), "agent"),
    ("agent not a string", _set("agent", ["bot"]), "agent"),
    ("agent space", _set("agent", "weather bot"), "agent"),
    ("agent quote", _set("agent", 'bot" via uid 0'), "agent"),
    (
        "agent impersonating the daemon",
        _set("agent", "system-updater (uid 0, pid 1, /sbin/init)"),
        "agent",
    ),
    ("allowances object", _set("allowances", {}), "allowances"),
    ("too many allowances", _allowances(9), "allowances"),
    ("allowance not an object", _set("allowances.0", "10 USDC"), "allowances.0"),
    ("allowance amount zero", _set("allowances.1.amount", 0), "allowances.1.amount"),
    ("allowance amount overflow", _set("allowances.0.amount", 2**256), "allowances.0.amount"),
    ("allowance amount negative", _set("allowances.0.amount", "-5"), "allowances.0.amount"),
    ("allowance amount decimal", _set("allowances.0.amount", "1.5"), "allowances.0.amount"),
    ("allowance period negative", _set("allowances.0.period", -1), "allowances.0.period"),
    ("allowance period overflow", _set("allowances.0.period", 2**64), "allowances.0.period"),
    ("allowance unknown key", _set("allowances.0.memo", "x"), "allowances.0.memo"),
    ("allowance names its symbol", _set("allowances.0.symbol", "USDC"), "allowances.0.symbol"),
    ("allowance names its decimals", _set("allowances.0.decimals", 6), "allowances.0.decimals"),
    (
        "maxPerPayment over the amount",
        _set("allowances.0.maxPerPayment", 10_000_001),
        "allowances.0.maxPerPayment",
    ),
    (
        "maxPerPayment negative",
        _set("allowances.0.maxPerPayment", -1),
        "allowances.0.maxPerPayment",
    ),
    # Reproduced: [1 USDC/day, 2**256 - 1 native] read "may spend 1 USDC/day, +1 more".
    (
        "summary cannot show every amount",
        _set("allowances.1", {"token": ZERO_ADDRESS, "amount": str(UINT256_MAX), "period": 0}),
        "allowances",
    ),
    (
        "allowance token lowercase",
        _set("allowances.0.token", USDC_BASE.lower()),
        "allowances.0.token",
    ),
    (
        "duplicate allowance",
        _set("allowances.1", {"token": USDC_BASE, "amount": 5, "period": 86400}),
        "allowances.1",
    ),
    ("targets string", _set("targets", TARGET_A), "targets"),
    ("too many targets", _targets(17), "targets"),
    ("duplicate target", _set("targets.1", TARGET_A), "targets.1"),
    ("zero target", _set("targets.0", ZERO_ADDRESS), "targets.0"),
    ("summary cannot show every payee", _payees(5), "payees"),
    ("too many payees", _payees(9), "payees"),
    ("payees without allowances", _payees(1, allowances=False), "payees"),
    ("payee zero", _set("payees", [ZERO_ADDRESS]), "payees.0"),
    ("duplicate payee", _set("payees", [PAYEE, PAYEE]), "payees.1"),
    ("validUntil and validFor", _set("validUntil", 2_000_000_000), "validFor"),
    ("neither validUntil nor validFor", _delete("validFor"), "validUntil"),
    ("validFor zero", _set("validFor", 0), "validFor"),
    ("validFor over a year", _set("validFor", MAX_WINDOW + 1), "validFor"),
    ("validUntil before validAfter", _until(10, after=20), "validUntil"),
    ("validUntil in the past", _until(-10, after=-100), "validUntil"),
    ("validUntil window over a year", _until(MAX_WINDOW + 1), "validUntil"),
    ("validAfter bool", _set("validAfter", False), "validAfter"),
    ("validAfter after year 9999", _set("validAfter", MAX_TIMESTAMP + 1), "validAfter"),
    ("nonce negative", _set("nonce", -1), "nonce"),
    ("nonce words", _set("nonce", "seven"), "nonce"),
    ("nonce null", _set("nonce", None), "nonce"),
]


@pytest.mark.parametrize(
    ("mutate", "field"), [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS]
)
def test_bad_request_names_the_field(
    request_json: dict[str, Any], now: int, mutate: Mutation, field: str
) -> None:
    data = copy.deepcopy(request_json)
    mutate(data, now)
    with pytest.raises(ValidationError) as caught:
        parse_grant_request(data, now=now)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize("document", [[], "{}", None, 5])
def test_request_must_be_an_object(document: Any, now: int) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_grant_request(document, now=now)
    assert caught.value.field == "document"
