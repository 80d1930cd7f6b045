"""The summary sentence: exact amounts, fixed wording, and the screen bound for any grant."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.grants import KNOWN_TOKENS, MAX_STRING, ZERO_ADDRESS, format_units, summarize
from signerd.grants.schema import (
    MAX_ALLOWANCES,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    UINT64_MAX,
    UINT256_MAX,
)
from signerd.grants.summary import format_period, format_time
from tests.support import USDC_BASE

SESSION_KEY = "0x5050A4F4b3f9338C3472dcC01A87C76A144b3c9c"
OTHER_TOKEN = "0x9999999999999999999999999999999999999999"


def message(
    allowances: list[dict[str, Any]], targets: int = 2, until: int = 1_795_392_000
) -> dict[str, Any]:
    return {
        "sessionKey": SESSION_KEY,
        "allowances": allowances,
        "targets": [f"0x{index + 1:040x}" for index in range(targets)],
        "validUntil": until,
    }


@pytest.mark.parametrize(
    ("amount", "decimals", "expected"),
    [
        (10_000_000, 6, "10"),
        (1_500_000, 6, "1.5"),
        (1, 6, "0.000001"),
        (1, 18, "0.000000000000000001"),
        (500_000_000_000_000_000, 18, "0.5"),
        (123_456_789_000_000_000_000, 18, "123.456789"),
        (10**18 + 1, 18, "1.000000000000000001"),
        (
            UINT256_MAX,
            6,
            "115792089237316195423570985008687907853269984665640564039457584007913129.639935",
        ),
        (7, 0, "7"),
    ],
)
def test_format_units_is_exact(amount: int, decimals: int, expected: str) -> None:
    assert format_units(amount, decimals) == expected


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (0, " total"),
        (3600, "/hour"),
        (86400, "/day"),
        (604800, "/week"),
        (2 * 86400, "/2d"),
        (30 * 86400, "/30d"),
        (7200, "/2h"),
        (90 * 60, "/90min"),
        (45, "/45s"),
        (86401, "/86401s"),
    ],
)
def test_format_period(period: int, expected: str) -> None:
    assert format_period(period) == expected


def test_format_time_shows_seconds_only_when_set() -> None:
    assert format_time(1_795_392_000) == "2026-11-23 00:00 UTC"
    assert format_time(1_795_392_030) == "2026-11-23 00:00:30 UTC"


def test_summary_of_a_typical_grant() -> None:
    allowances = [
        {"token": USDC_BASE, "amount": 10_000_000, "period": 86400},
        {"token": ZERO_ADDRESS, "amount": 5 * 10**17, "period": 0},
    ]
    assert summarize(message(allowances), 8453) == (
        "Key 0x5050..3c9c may spend 10 USDC/day, 0.5 ETH total; 2 contracts; "
        "until 2026-11-23 00:00 UTC"
    )


def test_token_names_depend_on_the_chain() -> None:
    allowances = [{"token": USDC_BASE, "amount": 10_000_000, "period": 3600}]
    # The same address on another chain is not USDC: shown as raw units of the address ("N of 0x..").
    assert "10000000 of 0x8335..2913/hour" in summarize(message(allowances), 1)
    assert "10 USDC/hour" in summarize(message(allowances), 8453)


def test_native_coin_names() -> None:
    native = [{"token": ZERO_ADDRESS, "amount": 2 * 10**18, "period": 0}]
    assert "2 POL total" in summarize(message(native), 137)
    assert "2 ETH total" in summarize(message(native), 1)
    assert "2 native total" in summarize(message(native), 999_999)


def test_unknown_token_is_shown_in_raw_units() -> None:
    allowances = [{"token": OTHER_TOKEN, "amount": 5000, "period": 604800}]
    assert "5000 of 0x9999..9999/week" in summarize(message(allowances), 8453)


def test_no_allowances_no_targets() -> None:
    text = summarize(message([], targets=0), 1)
    assert text == "Key 0x5050..3c9c may spend nothing; no other calls; until 2026-11-23 00:00 UTC"


def test_allowances_that_do_not_fit_are_counted() -> None:
    allowances = [
        {"token": ZERO_ADDRESS, "amount": 10**18 * (index + 1), "period": 86400 * index}
        for index in range(5)
    ]
    assert summarize(message(allowances, targets=1), 1) == (
        "Key 0x5050..3c9c may spend 1 ETH total, 2 ETH/day, +3 more; 1 contract; "
        "until 2026-11-23 00:00 UTC"
    )


def test_one_huge_allowance_is_counted_not_cut() -> None:
    allowances = [{"token": OTHER_TOKEN, "amount": UINT256_MAX, "period": 1}]
    assert "may spend within 1 allowance;" in summarize(message(allowances), 1)


def test_known_token_table_holds_checksummed_addresses() -> None:
    for (chain_id, address), (symbol, decimals) in KNOWN_TOKENS.items():
        assert chain_id >= 1
        assert to_checksum_address(address) == address
        assert symbol.isascii() and 0 <= decimals <= 36


addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_checksum_address(raw))
tokens = st.one_of(
    st.just(ZERO_ADDRESS), st.sampled_from([address for _, address in KNOWN_TOKENS]), addresses
)
allowance = st.fixed_dictionaries(
    {
        "token": tokens,
        "amount": st.one_of(st.integers(1, 10**30), st.integers(1, UINT256_MAX)),
        "period": st.one_of(
            st.sampled_from([0, 60, 3600, 86400, 604800]), st.integers(0, UINT64_MAX)
        ),
    }
)
messages = st.fixed_dictionaries(
    {
        "sessionKey": addresses,
        "allowances": st.lists(allowance, max_size=MAX_ALLOWANCES),
        "targets": st.lists(addresses, max_size=MAX_TARGETS),
        "validUntil": st.integers(0, MAX_TIMESTAMP),
    }
)
chains = st.one_of(
    st.sampled_from([1, 10, 137, 8453, 42161, 84532, 11155111]), st.integers(1, 2**64)
)


@settings(max_examples=300)
@given(messages, chains)
def test_summary_is_bounded_printable_and_deterministic(msg: dict[str, Any], chain_id: int) -> None:
    text = summarize(msg, chain_id)
    assert 0 < len(text) <= MAX_STRING
    assert text.isascii() and text.isprintable()
    assert text == text.strip()
    assert summarize(dict(msg), chain_id) == text
    # Whatever was left out is counted, never silently dropped.
    count = len(msg["allowances"])
    shown = text.count(", ") + 1 if count else 0
    if count and "+" not in text and "within" not in text:
        assert shown == count
