"""signerd.grants.caps: period windows (ERC20PeriodTransferEnforcer's) and a grant's allowances."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import ZERO_ADDRESS
from signerd.grants.caps import Window, allowances_for, grant_allowances, window_at
from signerd.grants.request import AllowanceSpec
from tests.support import USDC_BASE as BASE_USDC

DAY = 86_400
MAX_TIMESTAMP = 253_402_300_799

timestamps = st.integers(min_value=0, max_value=MAX_TIMESTAMP)
periods = st.integers(min_value=0, max_value=400 * DAY)


@st.composite
def grant_and_now(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """A validity, a period and an instant inside the validity."""
    valid_after = draw(timestamps)
    valid_until = draw(st.integers(min_value=valid_after + 1, max_value=valid_after + 400 * DAY))
    now = draw(st.integers(min_value=valid_after, max_value=valid_until - 1))
    return valid_after, valid_until, draw(periods), now


@given(grant_and_now())
def test_now_lies_in_its_window_inside_the_validity(case: tuple[int, int, int, int]) -> None:
    valid_after, valid_until, period, now = case
    window = window_at(valid_after, valid_until, period, now)
    assert window is not None
    assert now in window
    assert valid_after <= window.start <= now < window.end <= valid_until
    if period == 0:
        assert window == Window(valid_after, valid_until)
    else:
        # Windows start at validAfter plus whole periods and last a period, except the last,
        # which the grant's end cuts short.
        assert (window.start - valid_after) % period == 0
        assert window.end == min(window.start + period, valid_until)


@given(grant_and_now(), st.data())
def test_every_instant_of_a_window_has_that_window(
    case: tuple[int, int, int, int], data: st.DataObject
) -> None:
    valid_after, valid_until, period, now = case
    window = window_at(valid_after, valid_until, period, now)
    assert window is not None
    other = data.draw(st.integers(min_value=window.start, max_value=window.end - 1))
    assert window_at(valid_after, valid_until, period, other) == window


@given(grant_and_now())
def test_windows_tile_the_validity(case: tuple[int, int, int, int]) -> None:
    """Each window ends where the next begins and begins where the previous ends: no gap, no
    overlap, so an amount spent in one window never counts in another."""
    valid_after, valid_until, period, now = case
    window = window_at(valid_after, valid_until, period, now)
    assert window is not None
    if window.end < valid_until:
        following = window_at(valid_after, valid_until, period, window.end)
        assert following is not None and following.start == window.end
    else:
        assert window.end == valid_until
    if window.start > valid_after:
        previous = window_at(valid_after, valid_until, period, window.start - 1)
        assert previous is not None and previous.end == window.start
    else:
        assert window.start == valid_after


@given(
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=0, max_value=25),
)
def test_windows_cover_every_second_once(valid_after: int, length: int, period: int) -> None:
    valid_until = valid_after + length
    windows = [
        window_at(valid_after, valid_until, period, t) for t in range(valid_after, valid_until)
    ]
    distinct = sorted({w for w in windows if w is not None}, key=lambda w: w.start)
    assert None not in windows
    assert distinct[0].start == valid_after and distinct[-1].end == valid_until
    assert all(a.end == b.start for a, b in itertools.pairwise(distinct))
    assert sum(w.end - w.start for w in distinct) == length


@given(grant_and_now(), st.integers(min_value=1, max_value=10 * DAY))
def test_outside_the_validity_there_is_no_window(
    case: tuple[int, int, int, int], offset: int
) -> None:
    valid_after, valid_until, period, _ = case
    assert window_at(valid_after, valid_until, period, valid_until + offset - 1) is None
    assume(valid_after >= offset)
    assert window_at(valid_after, valid_until, period, valid_after - offset) is None


def test_examples() -> None:
    start = 1_000_000
    # 10 per day from `start` for 2.5 days: days one and two, then a half day.
    assert window_at(start, start + 5 * DAY // 2, DAY, start) == Window(start, start + DAY)
    assert window_at(start, start + 5 * DAY // 2, DAY, start + DAY - 1) == Window(
        start, start + DAY
    )
    assert window_at(start, start + 5 * DAY // 2, DAY, start + DAY) == Window(
        start + DAY, start + 2 * DAY
    )
    assert window_at(start, start + 5 * DAY // 2, DAY, start + 2 * DAY + 1) == Window(
        start + 2 * DAY, start + 5 * DAY // 2
    )
    assert window_at(start, start + 5 * DAY // 2, 0, start + 2 * DAY) == Window(
        start, start + 5 * DAY // 2
    )
    # A period longer than the grant: one window, cut at the end.
    assert window_at(start, start + 10, DAY, start + 9) == Window(start, start + 10)
    assert window_at(start, start + 10, DAY, start + 10) is None
    assert window_at(start, start + 10, DAY, start - 1) is None


@pytest.mark.parametrize(
    ("valid_after", "valid_until", "period", "field"),
    [(0, 10, -1, "period"), (10, 10, 0, "validUntil"), (11, 10, 5, "validUntil")],
)
def test_impossible_grants_are_refused(
    valid_after: int, valid_until: int, period: int, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        window_at(valid_after, valid_until, period, valid_after)
    assert caught.value.field == field


def test_allowances_for_a_token(
    grant: dict[str, Any], make_grant: Callable[[dict[str, Any]], dict[str, Any]], now: int
) -> None:
    usdc = AllowanceSpec(BASE_USDC, 10_000_000, DAY, 0, "USDC", 6)
    eth = AllowanceSpec(ZERO_ADDRESS, 500_000_000_000_000_000, 0, 0, "ETH", 18)
    assert grant_allowances(grant) == (usdc, eth)
    assert allowances_for(grant_allowances(grant), BASE_USDC) == (usdc,)
    assert allowances_for(grant_allowances(grant), BASE_USDC.lower()) == (usdc,)
    assert allowances_for(grant_allowances(grant), BASE_USDC.upper().replace("0X", "0x")) == (usdc,)
    assert allowances_for(grant_allowances(grant), ZERO_ADDRESS) == (eth,)
    assert allowances_for(grant_allowances(grant), "0x" + "42" * 20) == ()

    # One token capped per day and in total: both apply.
    request = {
        "chainId": 8453,
        "sessionKey": grant["typedData"]["message"]["sessionKey"],
        "agent": "weather-bot",
        "allowances": [
            {"token": BASE_USDC, "amount": 10, "period": DAY},
            {"token": BASE_USDC, "amount": 50, "period": 0},
        ],
        "targets": [],
        "validAfter": now,
        "validFor": DAY * 7,
    }
    assert allowances_for(grant_allowances(make_grant(request)), BASE_USDC) == (
        AllowanceSpec(BASE_USDC, 10, DAY, 0, "USDC", 6),
        AllowanceSpec(BASE_USDC, 50, 0, 0, "USDC", 6),
    )


def test_a_document_without_valid_allowances_is_refused(grant: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        grant_allowances({"typedData": {"message": {}}})
    assert caught.value.field == "typedData.message.allowances"
    grant["typedData"]["message"]["allowances"][0]["amount"] = "ten"
    with pytest.raises(ValidationError) as caught:
        grant_allowances(grant)
    assert caught.value.field == "typedData.message.allowances.0.amount"
