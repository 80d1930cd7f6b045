"""The tokens the daemon can name with certainty: symbol and decimals per (chain, address).

The daemon writes a token's symbol and decimals into the grant (schema.py), so a verifier
needs no table: this one only decides what the daemon fills in. It is the built-in table plus
the person's ``[tokens]`` config (config.py); an entry there may add tokens, never rename a
built-in one. A token in neither is named by nothing: symbol "" and 0 decimals, shown as raw
units of its short address. A chain's native coin (the zero address) always has 18 decimals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.schema import (
    MAX_DECIMALS,
    MAX_SYMBOL,
    NATIVE_COIN_NAMES,
    NATIVE_DECIMALS,
    ZERO_ADDRESS,
)

_SYMBOL = re.compile(rf"[A-Za-z0-9][A-Za-z0-9.+_-]{{0,{MAX_SYMBOL - 1}}}")


@dataclass(frozen=True)
class TokenInfo:
    symbol: str  # "" when the daemon cannot name the token
    decimals: int


TokenTable = Mapping[tuple[int, str], TokenInfo]
"""(chainId, checksummed address) -> name; the zero address is the chain's native coin."""

UNNAMED: Final = TokenInfo("", 0)
UNNAMED_NATIVE: Final = TokenInfo("", NATIVE_DECIMALS)

_BUILTIN_ERC20: Final = {
    (1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"): TokenInfo("USDC", 6),
    (1, "0xdAC17F958D2ee523a2206206994597C13D831ec7"): TokenInfo("USDT", 6),
    (1, "0x6B175474E89094C44Da98b954EedeAC495271d0F"): TokenInfo("DAI", 18),
    (1, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"): TokenInfo("WETH", 18),
    (10, "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85"): TokenInfo("USDC", 6),
    (137, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"): TokenInfo("USDC", 6),
    (8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"): TokenInfo("USDC", 6),
    (42161, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"): TokenInfo("USDC", 6),
    (84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e"): TokenInfo("USDC", 6),
    (11155111, "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"): TokenInfo("USDC", 6),
}

BUILTIN_TOKENS: Final[TokenTable] = MappingProxyType(
    {
        **_BUILTIN_ERC20,
        **{
            (chain, ZERO_ADDRESS): TokenInfo(symbol, NATIVE_DECIMALS)
            for chain, symbol in NATIVE_COIN_NAMES.items()
        },
    }
)


def name_token(tokens: TokenTable, chain_id: int, token: str) -> TokenInfo:
    """What the summary calls ``token`` on ``chain_id``: its table entry, or unnamed."""
    known = tokens.get((chain_id, token))
    if known is not None:
        return known
    return UNNAMED_NATIVE if token == ZERO_ADDRESS else UNNAMED


def symbol(value: Any, field: str) -> str:
    """A token symbol: 1 to 11 letters, digits or . + _ - (no spaces or separators)."""
    if not isinstance(value, str) or not _SYMBOL.fullmatch(value):
        raise ValidationError(
            field, f"must be 1 to {MAX_SYMBOL} letters, digits or . + _ - starting alphanumeric"
        )
    return value


def check_token_name(token: str, info: TokenInfo, field: str) -> None:
    """The signed (symbol, decimals) of ``token`` are a name or the unnamed form."""
    if info.symbol:
        symbol(info.symbol, fields.path(field, "symbol"))
    if token == ZERO_ADDRESS:
        if info.decimals != NATIVE_DECIMALS:
            raise ValidationError(
                fields.path(field, "decimals"), f"must be {NATIVE_DECIMALS} for the native coin"
            )
    elif not info.symbol and info.decimals != 0:
        raise ValidationError(fields.path(field, "decimals"), "must be 0 for an unnamed token")
    elif info.decimals > MAX_DECIMALS:
        raise ValidationError(fields.path(field, "decimals"), f"must be at most {MAX_DECIMALS}")


def token_table(entries: Iterable[tuple[int, str, TokenInfo]], where: str) -> TokenTable:
    """The built-in table plus ``entries`` (chain, checksummed address, name), checked.

    ``where`` names the entries in errors ("tokens" -> "tokens.2.symbol"). An entry may
    repeat a built-in one exactly, never name it otherwise, and never appear twice.
    """
    table = dict(BUILTIN_TOKENS)
    added: set[tuple[int, str]] = set()
    for index, (chain_id, address, info) in enumerate(entries):
        field = fields.path(where, index)
        key = (chain_id, address)
        check_token_name(address, info, field)
        if not info.symbol:
            raise ValidationError(fields.path(field, "symbol"), "must name the token")
        if key in added:
            raise ValidationError(field, f"names {address} on chain {chain_id} twice")
        if key in BUILTIN_TOKENS and BUILTIN_TOKENS[key] != info:
            known = BUILTIN_TOKENS[key]
            raise ValidationError(
                field, f"conflicts with the built-in {known.symbol} ({known.decimals} decimals)"
            )
        added.add(key)
        table[key] = info
    return MappingProxyType(table)
