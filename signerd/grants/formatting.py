"""Amounts, periods, times and addresses as summaries write them: exact, short, ASCII.

Both schema versions' summaries are built from these, and verifiers recompute the summaries:
changing an output here changes which signed grants verify, so it needs a new schema version.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Final

from signerd.grants.schema import MAX_TIMESTAMP

_PERIOD_NAMES: Final[Mapping[int, str]] = {3_600: "/hour", 86_400: "/day", 604_800: "/week"}


def format_units(amount: int, decimals: int) -> str:
    """``amount`` base units as an exact decimal: 1500000, 6 -> "1.5"; no float anywhere."""
    whole, fraction = divmod(amount, 10**decimals)
    if fraction == 0:
        return str(whole)
    return f"{whole}.{str(fraction).zfill(decimals).rstrip('0')}"


def format_period(period: int) -> str:
    """How often an allowance refills: " total" (0), "/day", "/3d", "/90min", "/45s"."""
    if period == 0:
        return " total"
    if period in _PERIOD_NAMES:
        return _PERIOD_NAMES[period]
    for unit, suffix in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if period % unit == 0:
            return f"/{period // unit}{suffix}"
    return f"/{period}s"


def format_time(timestamp: int) -> str:
    """A Unix time as "2026-11-23 00:00 UTC" (seconds only when not zero)."""
    if timestamp > MAX_TIMESTAMP:
        return f"unix time {timestamp}"
    # gmtime and a format string: half the cost of datetime's strftime, the same text for
    # every time up to MAX_TIMESTAMP (tests compare the two); every verifier pays it.
    moment = time.gmtime(timestamp)
    text = (
        f"{moment.tm_year:04d}-{moment.tm_mon:02d}-{moment.tm_mday:02d} "
        f"{moment.tm_hour:02d}:{moment.tm_min:02d}"
    )
    if moment.tm_sec:
        text += f":{moment.tm_sec:02d}"
    return f"{text} UTC"


def short_address(address: str) -> str:
    """0x1234..abcd: enough to recognise an address whose full form is shown in its own field."""
    return f"{address[:6]}..{address[-4:]}"
