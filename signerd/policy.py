"""Policy ceilings: pure checks that refuse a grant request before it reaches the device.

``max_allowance`` is a rate, not a single number: base units of a token per ``rate_period``
seconds (a day by default). Each allowance is normalised to it (``_rate``): ``amount`` per
``period``, where period 0 (one window for the whole validity) and any period longer than the
validity count as the validity, because the whole amount can be spent within it; a grant
shorter than the rate period is bounded by its total. So 10 USDC per second is 864,000 USDC a
day, not "10 USDC". A request's allowances on the same token add up. Exact fractions, no
floats: a rate at the ceiling passes, one unit over does not.
``validAfter`` has a horizon (``max_start_delay``) measured from when the request arrived, so
a grant cannot be approved today for a window that opens in a year.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from signerd.config import Policy
from signerd.errors import PolicyRefused
from signerd.grants import GrantRequest


def check_policy(request: GrantRequest, policy: Policy) -> None:
    """Raise PolicyRefused naming the first field beyond a ceiling."""
    window = request.valid_until - request.valid_after
    if policy.max_validity is not None and window > policy.max_validity:
        raise PolicyRefused(
            f"validity: {window} s exceeds the configured maximum of {policy.max_validity} s"
        )
    delay = request.valid_after - request.received_at
    if policy.max_start_delay is not None and delay > policy.max_start_delay:
        raise PolicyRefused(
            f"validAfter: starts {delay} s from now, beyond the configured horizon of "
            f"{policy.max_start_delay} s (max_start_delay)"
        )
    rates: defaultdict[str, Fraction] = defaultdict(Fraction)
    for index, allowance in enumerate(request.allowances):
        where = f"allowances.{index}"
        if policy.allowed_tokens is not None and allowance.token not in policy.allowed_tokens:
            raise PolicyRefused(f"{where}.token: {allowance.token} is not an allowed token")
        own = _rate(allowance.amount, allowance.period, window, policy.rate_period)
        rates[allowance.token] += own
        cap = policy.max_allowance.get(allowance.token)
        if cap is not None and rates[allowance.token] > cap:
            every = f"per {allowance.period} s" if allowance.period else "in total"
            shared = "" if rates[allowance.token] == own else ", with the allowances before it,"
            raise PolicyRefused(
                f"{where}.amount: {allowance.amount} {every} is{shared} "
                f"{_whole(rates[allowance.token])} base units of {allowance.token} per "
                f"{policy.rate_period} s, over the configured maximum of {cap} (max_allowance)"
            )
    for index, target in enumerate(request.targets):
        if policy.allowed_targets is not None and target not in policy.allowed_targets:
            raise PolicyRefused(f"targets.{index}: {target} is not an allowed target")


def _rate(amount: int, period: int, window: int, rate_period: int) -> Fraction:
    """The most an allowance lets the key spend per ``rate_period``, on average.

    Fixed windows of ``period`` (0, or longer than the validity: one window) over a validity
    of ``window`` seconds. A grant no longer than the rate period fits inside one: its rate is
    all it can spend, amount times the windows it has, so a one-hour grant of 10 USDC is 10 a
    day, not 240.
    """
    period = period if 0 < period < window else window
    if window <= rate_period:
        return Fraction(amount * -(-window // period))
    return Fraction(amount * rate_period, period)


def _whole(rate: Fraction) -> str:
    """A rate in whole base units: exact, or "about N" when it is a fraction."""
    return str(rate.numerator) if rate.denominator == 1 else f"about {round(rate)}"
