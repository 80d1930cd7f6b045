"""The one readable sentence a grant carries in its ``summary`` field.

Devices show integers raw, so the summary is where "10000000" becomes "10 USDC/day". It is
derived only from signed fields and every verifier recomputes it, so a grant whose summary
says anything else is rejected and the screen cannot mislead.

The token and coin tables below are therefore part of the verifier: changing, adding or
removing an entry changes the summary of existing grants, so it needs a new DOMAIN_VERSION
(schema.py), exactly like a change to the types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from signerd.grants.schema import MAX_STRING, MAX_TIMESTAMP, ZERO_ADDRESS

KNOWN_TOKENS: Final[Mapping[tuple[int, str], tuple[str, int]]] = {
    # (chainId, checksummed address) -> (symbol, decimals)
    (1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"): ("USDC", 6),
    (1, "0xdAC17F958D2ee523a2206206994597C13D831ec7"): ("USDT", 6),
    (1, "0x6B175474E89094C44Da98b954EedeAC495271d0F"): ("DAI", 18),
    (1, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"): ("WETH", 18),
    (10, "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85"): ("USDC", 6),
    (137, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"): ("USDC", 6),
    (8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"): ("USDC", 6),
    (42161, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"): ("USDC", 6),
    (84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"): ("USDC", 6),
    (11155111, "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"): ("USDC", 6),
}

NATIVE_COINS: Final[Mapping[int, str]] = {
    1: "ETH",
    10: "ETH",
    56: "BNB",
    100: "xDAI",
    137: "POL",
    8453: "ETH",
    17000: "ETH",
    42161: "ETH",
    43114: "AVAX",
    80002: "POL",
    84532: "ETH",
    11155111: "ETH",
}
NATIVE_DECIMALS: Final = 18
"""EVM native coins count in wei-like units of 10**-18 on every chain."""
UNKNOWN_NATIVE: Final = "native"
"""The coin name on chains missing from NATIVE_COINS: honest rather than guessing "ETH"."""

_PERIOD_NAMES: Final[Mapping[int, str]] = {3_600: "/hour", 86_400: "/day", 604_800: "/week"}


def summarize(message: Mapping[str, Any], chain_id: int) -> str:
    """The summary of a validated grant message (ints, checksummed addresses), <= MAX_STRING.

    Allowances that do not fit are counted ("+2 more"), never cut in the middle, so every
    amount shown is exact.
    """
    head = f"Key {short_address(message['sessionKey'])} may spend "
    tail = (
        f"; {_targets_phrase(len(message['targets']))}; until {format_time(message['validUntil'])}"
    )
    items = [_allowance_phrase(item, chain_id) for item in message["allowances"]]
    sentence = head + _fit_allowances(items, MAX_STRING - len(head) - len(tail)) + tail
    if len(sentence) > MAX_STRING:
        # Unreachable for validated messages (bounded counts and dates); keeps the bound total.
        sentence = sentence[: MAX_STRING - 3] + "..."
    return sentence


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
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    text = moment.strftime("%Y-%m-%d %H:%M")
    if moment.second:
        text += f":{moment.second:02d}"
    return f"{text} UTC"


def short_address(address: str) -> str:
    """0x1234..abcd: enough to recognise an address whose full form is shown in its own field."""
    return f"{address[:6]}..{address[-4:]}"


def _allowance_phrase(allowance: Mapping[str, Any], chain_id: int) -> str:
    token: str = allowance["token"]
    amount: int = allowance["amount"]
    period = format_period(allowance["period"])
    if token == ZERO_ADDRESS:
        symbol = NATIVE_COINS.get(chain_id, UNKNOWN_NATIVE)
        return f"{format_units(amount, NATIVE_DECIMALS)} {symbol}{period}"
    known = KNOWN_TOKENS.get((chain_id, token))
    if known is None:
        return f"{amount} of {short_address(token)}{period}"
    symbol, decimals = known
    return f"{format_units(amount, decimals)} {symbol}{period}"


def _fit_allowances(items: Sequence[str], room: int) -> str:
    """As many leading allowances as fit in ``room`` characters, then a count of the rest."""
    if not items:
        return "nothing"
    for shown in range(len(items), 0, -1):
        hidden = len(items) - shown
        text = ", ".join(items[:shown]) + (f", +{hidden} more" if hidden else "")
        if len(text) <= room:
            return text
    return f"within {len(items)} allowance{'s' if len(items) > 1 else ''}"


def _targets_phrase(count: int) -> str:
    # Empty targets still allow moving the allowed tokens, so "no other calls", not "no calls".
    if count == 0:
        return "no other calls"
    return f"{count} contract{'s' if count > 1 else ''}"
