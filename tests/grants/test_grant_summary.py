"""The summary sentence: every amount, the chain, exact wording, and never cut to fit a screen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import CHAIN_NAMES, MAX_STRING, ZERO_ADDRESS, format_units, parse_grant_request
from signerd.grants.formatting import format_period, format_time
from signerd.grants.schema import (
    MAX_ALLOWANCES,
    MAX_PAYEES,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    UINT64_MAX,
    UINT256_MAX,
)
from signerd.grants.summary import allowance_phrase, chain_name, summarize, summary_problem
from tests.support import USDC_BASE

SESSION_KEY = "0x5050A4F4b3f9338C3472dcC01A87C76A144b3c9c"
OTHER_TOKEN = "0x9999999999999999999999999999999999999999"
NOW = 1_795_000_000
UNTIL = 1_795_392_000  # 2026-11-23 00:00 UTC


def allowance(
    token: str, amount: int, period: int, symbol: str = "", decimals: int = 0, most: int = 0
) -> dict[str, Any]:
    return {
        "token": token,
        "symbol": symbol,
        "decimals": decimals,
        "amount": amount,
        "period": period,
        "maxPerPayment": most,
    }


def message(
    allowances: list[dict[str, Any]], *, payees: int = 0, targets: int = 0
) -> dict[str, Any]:
    return {
        "allowances": allowances,
        "payees": [f"0x{index + 1:040x}" for index in range(payees)],
        "targets": [f"0x{index + 0x100:040x}" for index in range(targets)],
        "validUntil": UNTIL,
    }


def summary_of(chain_id: int, *allowances: tuple[str, int | str, int]) -> str:
    """The summary the daemon computes for a request, through the request's own checks."""
    request = parse_grant_request(
        {
            "chainId": chain_id,
            "sessionKey": SESSION_KEY,
            "agent": "x",
            "allowances": [
                {"token": token, "amount": amount, "period": period}
                for token, amount, period in allowances
            ],
            "targets": [],
            "validUntil": UNTIL,
        },
        now=NOW,
    )
    return request.summary()


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


@given(st.integers(min_value=0, max_value=MAX_TIMESTAMP))
def test_format_time_writes_what_datetime_writes(timestamp: int) -> None:
    # Summaries are signed and recomputed by every verifier: the text must never change.
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    expected = moment.strftime("%Y-%m-%d %H:%M") + (f":{moment.second:02d}" * bool(moment.second))
    assert format_time(timestamp) == f"{expected} UTC"


def test_format_time_of_the_last_timestamp_and_beyond() -> None:
    assert format_time(MAX_TIMESTAMP) == "9999-12-31 23:59:59 UTC"
    assert format_time(0) == "1970-01-01 00:00 UTC"
    assert format_time(MAX_TIMESTAMP + 1) == f"unix time {MAX_TIMESTAMP + 1}"


def test_summary_of_a_typical_grant() -> None:
    allowances = [
        allowance(USDC_BASE, 10_000_000, 86400, "USDC", 6, most=500_000),
        allowance(ZERO_ADDRESS, 5 * 10**17, 0, "ETH", 18),
    ]
    assert summarize(message(allowances, targets=2), 8453) == (
        "10 USDC/day (max 0.5 each) + 0.5 ETH total on Base; to anyone; may call 2 contracts; "
        "until 2026-11-23 00:00 UTC"
    )


def test_issue_case_token_of_another_chain_shows_raw_units_and_the_chain() -> None:
    # Was "may spend within 1 allowance": no amount at all (chain 1, where this is not USDC).
    assert summary_of(1, (USDC_BASE, "10000000", 86400)) == (
        "10000000 units of 0x8335..2913/day on Ethereum; to anyone; until 2026-11-23 00:00 UTC"
    )


def test_issue_case_token_outside_the_table() -> None:
    assert summary_of(8453, (OTHER_TOKEN, 5000, 604800)).startswith(
        "5000 units of 0x9999..9999/week on Base;"
    )


def test_issue_case_one_wei_of_native_coin() -> None:
    assert summary_of(1, (ZERO_ADDRESS, 1, 0)) == (
        "0.000000000000000001 ETH total on Ethereum; to anyone; until 2026-11-23 00:00 UTC"
    )


def test_issue_case_an_amount_that_cannot_be_shown_is_refused_not_counted() -> None:
    # Was "may spend 1 USDC/day, +1 more", and verified as valid.
    with pytest.raises(ValidationError) as caught:
        summary_of(8453, (USDC_BASE, 1_000_000, 86400), (ZERO_ADDRESS, UINT256_MAX, 0))
    assert caught.value.field == "allowances"
    assert "more than the 99 a screen shows whole" in caught.value.message


@pytest.mark.parametrize(
    ("chain_id", "token", "name"),
    [
        (1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "Ethereum"),
        (8453, USDC_BASE, "Base"),
        (84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e", "Base Sepolia"),
    ],
)
def test_issue_case_the_chain_is_always_named(chain_id: int, token: str, name: str) -> None:
    # Was "10 USDC/day" on all three chains.
    assert summary_of(chain_id, (token, 10_000_000, 86400)).startswith(f"10 USDC/day on {name};")


def test_unknown_chains_are_named_by_number() -> None:
    assert chain_name(999) == "chain 999"
    assert summary_of(999_999, (ZERO_ADDRESS, 2 * 10**18, 0)).startswith(
        "2 native total on chain 999999;"
    )
    assert "POL" in summary_of(137, (ZERO_ADDRESS, 2 * 10**18, 0))


def test_unnamed_tokens_show_their_maximum_in_raw_units() -> None:
    assert allowance_phrase(allowance(OTHER_TOKEN, 5000, 3600, most=250)) == (
        "5000 units of 0x9999..9999/hour (max 250 each)"
    )


def test_payees_and_targets() -> None:
    usdc = allowance(USDC_BASE, 10_000_000, 86400, "USDC", 6)
    assert summarize(message([usdc], payees=2, targets=1), 8453) == (
        "10 USDC/day on Base; to 0x0000..0001, 0x0000..0002; may call 1 contract; "
        "until 2026-11-23 00:00 UTC"
    )


def test_no_allowances() -> None:
    assert summarize(message([], targets=1), 8453) == (
        "No spending on Base; may call 1 contract; until 2026-11-23 00:00 UTC"
    )


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        (message([allowance(OTHER_TOKEN, UINT256_MAX, 1)]), "allowances"),
        # Fits but for "; to anyone": no payee to drop, the allowance is what is too long.
        (message([allowance(OTHER_TOKEN, 10**7, 13, most=10**7 - 1)]), "allowances"),
        (message([allowance(OTHER_TOKEN, 1, 1)], payees=MAX_PAYEES), "payees"),
        (message([allowance(OTHER_TOKEN, 1_000_000, 86400)], targets=2), "targets"),
    ],
)
def test_summary_problem_names_the_part_that_overflows(msg: dict[str, Any], field: str) -> None:
    problem = summary_problem(msg, 8453)
    assert problem is not None and problem[0] == field
    assert repr(summarize(msg, 8453)) in problem[1]


def test_a_summary_that_fits_has_no_problem() -> None:
    msg = message([allowance(USDC_BASE, 10_000_000, 86400, "USDC", 6)])
    assert summary_problem(msg, 8453) is None


addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_checksum_address(raw))
names = st.one_of(
    st.just(("", 0)),
    st.tuples(
        st.sampled_from(["USDC", "ETH", "WETH", "USDC.e", "a1234567890"]), st.integers(0, 36)
    ),
)


@st.composite
def allowances(draw: st.DrawFn) -> dict[str, Any]:
    token = draw(st.just(ZERO_ADDRESS) | addresses)
    symbol, decimals = draw(names)
    if token == ZERO_ADDRESS:
        decimals = 18
    amount = draw(st.integers(1, 10**30) | st.integers(1, UINT256_MAX))
    period = draw(st.sampled_from([0, 60, 3600, 86400, 604800]) | st.integers(0, UINT64_MAX))
    most = draw(st.just(0) | st.integers(1, amount))
    return allowance(token, amount, period, symbol, decimals, most)


messages = st.fixed_dictionaries(
    {
        "allowances": st.lists(allowances(), max_size=MAX_ALLOWANCES),
        "payees": st.lists(addresses, max_size=MAX_PAYEES),
        "targets": st.lists(addresses, max_size=MAX_TARGETS),
        "validUntil": st.integers(0, MAX_TIMESTAMP),
    }
)
chains = st.sampled_from(sorted(CHAIN_NAMES)) | st.integers(1, 2**63)


@settings(max_examples=300)
@given(messages, chains)
def test_summary_shows_everything_or_says_it_cannot(msg: dict[str, Any], chain_id: int) -> None:
    text = summarize(msg, chain_id)
    assert text.isascii() and text.isprintable() and text == text.strip()
    assert summarize(dict(msg), chain_id) == text
    # Every allowance is written out in full, and the chain is named: nothing is counted away.
    for item in msg["allowances"]:
        assert allowance_phrase(item) in text
    assert f" on {chain_name(chain_id)}" in text
    problem = summary_problem(msg, chain_id)
    assert (problem is None) == (len(text) <= MAX_STRING)
