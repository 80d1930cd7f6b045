"""Grant schema version 1, frozen: grants signed under it keep verifying under its own rules.

Nothing here builds new grants. Version 1 put the summary only in the message (a Trezor
person could approve without seeing it), named tokens from fixed tables, counted allowances it
could not fit ("+2 more") and never named the chain; version 2 (schema.py) fixes all of that.
These types, tables and the summary's wording must not change: old grants would stop verifying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.formatting import format_period, format_time, format_units, short_address
from signerd.grants.request import check_window, parse_addresses
from signerd.grants.schema import (
    MAX_ALLOWANCES,
    MAX_STRING,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    NATIVE_COIN_NAMES,
    NATIVE_DECIMALS,
    UINT64_MAX,
    UINT256_MAX,
    ZERO_ADDRESS,
)

DOMAIN_NAME_V1: Final = "signerd"
DOMAIN_VERSION_V1: Final = "1"

TYPES_V1: Final[dict[str, list[dict[str, str]]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "SessionGrant": [
        {"name": "account", "type": "address"},
        {"name": "sessionKey", "type": "address"},
        {"name": "agent", "type": "string"},
        {"name": "summary", "type": "string"},
        {"name": "allowances", "type": "Allowance[]"},
        {"name": "targets", "type": "address[]"},
        {"name": "validAfter", "type": "uint64"},
        {"name": "validUntil", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ],
    "Allowance": [
        {"name": "token", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "period", "type": "uint64"},
    ],
}
_MESSAGE_FIELDS: Final = tuple(field["name"] for field in TYPES_V1["SessionGrant"])
_ALLOWANCE_FIELDS: Final = tuple(field["name"] for field in TYPES_V1["Allowance"])

KNOWN_TOKENS_V1: Final[Mapping[tuple[int, str], tuple[str, int]]] = {
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
NATIVE_COINS_V1: Final[Mapping[int, str]] = NATIVE_COIN_NAMES


def summarize_v1(message: Mapping[str, Any], chain_id: int) -> str:
    """The version 1 summary of a validated version 1 message, <= MAX_STRING."""
    head = f"Key {short_address(message['sessionKey'])} may spend "
    tail = (
        f"; {_targets_phrase(len(message['targets']))}; until {format_time(message['validUntil'])}"
    )
    items = [_allowance_phrase(item, chain_id) for item in message["allowances"]]
    sentence = head + _fit_allowances(items, MAX_STRING - len(head) - len(tail)) + tail
    if len(sentence) > MAX_STRING:
        sentence = sentence[: MAX_STRING - 3] + "..."
    return sentence


def parse_message_v1(raw_message: Any, where: str) -> dict[str, Any]:
    """A version 1 message checked by version 1 rules, with ints and checksummed addresses."""
    raw = fields.obj(raw_message, where, required=_MESSAGE_FIELDS)

    def at(key: str) -> str:
        return fields.path(where, key)

    message: dict[str, Any] = {
        "account": fields.address(raw["account"], at("account")),
        "sessionKey": fields.address(raw["sessionKey"], at("sessionKey")),
        "agent": fields.text(raw["agent"], at("agent"), max_length=MAX_STRING),
        "summary": fields.text(raw["summary"], at("summary"), max_length=MAX_STRING),
        "allowances": _parse_allowances(raw["allowances"], at("allowances")),
        "targets": list(parse_addresses(raw["targets"], at("targets"), max_items=MAX_TARGETS)),
        "validAfter": fields.uint(raw["validAfter"], at("validAfter"), maximum=MAX_TIMESTAMP),
        "validUntil": fields.uint(raw["validUntil"], at("validUntil"), maximum=MAX_TIMESTAMP),
        "nonce": fields.uint(raw["nonce"], at("nonce"), maximum=UINT256_MAX),
    }
    check_window(message["validAfter"], message["validUntil"], at("validUntil"))
    return message


def _parse_allowances(value: Any, field: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(fields.array(value, field, max_items=MAX_ALLOWANCES)):
        at = fields.path(field, index)
        fields.obj(item, at, required=_ALLOWANCE_FIELDS)
        token = fields.address(item["token"], fields.path(at, "token"), allow_zero=True)
        amount = fields.uint(
            item["amount"], fields.path(at, "amount"), minimum=1, maximum=UINT256_MAX
        )
        period = fields.uint(item["period"], fields.path(at, "period"), maximum=UINT64_MAX)
        if (token, period) in seen:
            raise ValidationError(at, "repeats the token and period of another allowance")
        seen.add((token, period))
        result.append({"token": token, "amount": amount, "period": period})
    return result


def _allowance_phrase(allowance: Mapping[str, Any], chain_id: int) -> str:
    token: str = allowance["token"]
    amount: int = allowance["amount"]
    period = format_period(allowance["period"])
    if token == ZERO_ADDRESS:
        symbol = NATIVE_COINS_V1.get(chain_id, "native")
        return f"{format_units(amount, NATIVE_DECIMALS)} {symbol}{period}"
    known = KNOWN_TOKENS_V1.get((chain_id, token))
    if known is None:
        return f"{amount} of {short_address(token)}{period}"
    symbol, decimals = known
    return f"{format_units(amount, decimals)} {symbol}{period}"


def _fit_allowances(items: Sequence[str], room: int) -> str:
    if not items:
        return "nothing"
    for shown in range(len(items), 0, -1):
        hidden = len(items) - shown
        text = ", ".join(items[:shown]) + (f", +{hidden} more" if hidden else "")
        if len(text) <= room:
            return text
    return f"within {len(items)} allowance{'s' if len(items) > 1 else ''}"


def _targets_phrase(count: int) -> str:
    if count == 0:
        return "no other calls"
    return f"{count} contract{'s' if count > 1 else ''}"
