"""The one readable sentence a version 2 grant carries, in its domain name and first field.

Devices show integers raw, so the summary is where "10000000" becomes "10 USDC/day". It is
derived only from signed fields (the tokens' signed symbol and decimals included) and the
schema's CHAIN_NAMES, and every verifier recomputes it: a grant whose summary says anything
else is rejected, so the screen cannot mislead. It shows every amount, the chain, each
per-payment maximum, the payees and the end of validity, and is never shortened: a request
whose summary would not fit a screen is refused (``summary_problem``)::

    10 USDC/day (max 0.5 each) + 0.5 ETH total on Base; to anyone; until 2026-11-23 00:00 UTC
    10000000 units of 0x8335..2913/day on Ethereum; to 0x2096..287C; may call 1 contract; ...
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from signerd.grants.formatting import format_period, format_time, format_units, short_address
from signerd.grants.schema import CHAIN_NAMES, MAX_STRING, ZERO_ADDRESS


def summarize(message: Mapping[str, Any], chain_id: int) -> str:
    """The summary of a validated version 2 message (ints, checksummed addresses).

    May be longer than MAX_STRING; ``summary_problem`` says so before anything is built.
    """
    allowances = message["allowances"]
    head = _spending(allowances) + " on " + chain_name(chain_id)
    return head + _payees(allowances, message["payees"]) + _rest(message)


def summary_problem(message: Mapping[str, Any], chain_id: int) -> tuple[str, str] | None:
    """(field, reason) when the summary does not fit one screen; None when it does.

    The field is the first part that overflows, in the order the summary is written:
    allowances (with the chain and the end of validity), then payees, then targets.
    """
    summary = summarize(message, chain_id)
    if len(summary) <= MAX_STRING:
        return None
    allowances = message["allowances"]
    rest = _rest({**message, "targets": []})
    head = _spending(allowances) + " on " + chain_name(chain_id)
    with_payees = head + _payees(allowances, message["payees"]) + rest
    # No payees is "; to anyone": nothing to shorten there, so the allowances are too long.
    if len(head + rest) > MAX_STRING or (not message["payees"] and len(with_payees) > MAX_STRING):
        field = "allowances"
    elif len(with_payees) > MAX_STRING:
        field = "payees"
    else:
        field = "targets"
    reason = (
        f"the device summary would be {len(summary)} characters, more than the {MAX_STRING} "
        f"a screen shows whole: {summary!r}; ask for fewer or shorter {field}"
    )
    return field, reason


def chain_name(chain_id: int) -> str:
    """ "Base", or "chain 999" for a chain the schema does not name."""
    return CHAIN_NAMES.get(chain_id, f"chain {chain_id}")


def allowance_phrase(allowance: Mapping[str, Any]) -> str:
    """ "10 USDC/day (max 0.5 each)", "0.5 ETH total", "5000 units of 0x9999..9999/week"."""
    return _phrase(
        allowance["token"],
        allowance["symbol"],
        allowance["decimals"],
        allowance["amount"],
        allowance["period"],
        allowance["maxPerPayment"],
    )


# Cached: one person's grants repeat the same few allowances, and every verifier recomputes
# the summary of each grant it checks. ``typed``: True and 1 would read differently.
@functools.lru_cache(maxsize=1024, typed=True)
def _phrase(
    token: str, symbol: str, decimals: int, amount: int, period: int, max_per_payment: int
) -> str:
    if symbol:
        text = f"{format_units(amount, decimals)} {symbol}"
    elif token == ZERO_ADDRESS:
        text = f"{format_units(amount, decimals)} native"
    else:
        text = f"{amount} units of {short_address(token)}"
    text += format_period(period)
    if max_per_payment:
        text += f" (max {format_units(max_per_payment, decimals)} each)"
    return text


def _spending(allowances: Sequence[Mapping[str, Any]]) -> str:
    if not allowances:
        return "No spending"
    return " + ".join(allowance_phrase(allowance) for allowance in allowances)


def _payees(allowances: Sequence[Mapping[str, Any]], payees: Sequence[str]) -> str:
    # Without allowances there is nothing to pay (and payees must then be empty).
    if not allowances:
        return ""
    return "; to " + (", ".join(short_address(payee) for payee in payees) or "anyone")


def _rest(message: Mapping[str, Any]) -> str:
    count = len(message["targets"])
    calls = f"; may call {count} contract{'s' if count > 1 else ''}" if count else ""
    return f"{calls}; until {format_time(message['validUntil'])}"
