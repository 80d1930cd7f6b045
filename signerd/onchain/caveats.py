"""Caveat terms of the MetaMask enforcers signerd uses: encode, decode, describe.

Layouts are the enforcers' own `getTermsInfo` (Delegation Framework v1.3.0 sources):
- ERC20PeriodTransferEnforcer: token (20) | periodAmount (32) | periodDuration (32) |
  startDate (32), 116 bytes;
- NativeTokenPeriodTransferEnforcer: periodAmount | periodDuration | startDate, 96 bytes;
- MultiTokenPeriodEnforcer: one 116-byte ERC-20 layout per token, token 0x0 = native; the
  redeemer's `args` is `abi.encode(uint256 index)` of the entry a transfer counts against;
- TimestampEnforcer: uint128 after | uint128 before, 32 bytes; both bounds exclusive, 0 = none;
- ValueLteEnforcer: uint256 most native value per execution, 32 bytes;
- ExactCalldataEnforcer: the calldata itself (empty: plain value transfers only).
Terms are bytes, which every device shows as hex: `describe` is what the daemon prints
beside the prompt so the person can read what the hex says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from signerd.addresses import to_checksum_address
from signerd.grants.formatting import format_period, format_time, format_units

NATIVE: Final = "0x0000000000000000000000000000000000000000"
_PERIOD_ENTRY: Final = 116


@dataclass(frozen=True)
class Enforcers:
    """Where the enforcers are deployed on one chain (checksummed addresses)."""

    erc20_period: str
    native_period: str
    multi_token_period: str
    timestamp: str
    value_lte: str
    exact_calldata: str

    def name_of(self, address: str) -> str | None:
        for name, value in vars(self).items():
            if value.lower() == address.lower():
                return name
        return None


@dataclass(frozen=True)
class PeriodTerms:
    """One period-transfer limit: `amount` of `token` per `duration` seconds from `start`."""

    token: str
    amount: int
    duration: int
    start: int


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _addr(token: str) -> bytes:
    return bytes.fromhex(token.removeprefix("0x"))


def erc20_period_terms(limit: PeriodTerms) -> bytes:
    return _addr(limit.token) + _word(limit.amount) + _word(limit.duration) + _word(limit.start)


def native_period_terms(limit: PeriodTerms) -> bytes:
    return _word(limit.amount) + _word(limit.duration) + _word(limit.start)


def multi_token_terms(limits: tuple[PeriodTerms, ...]) -> bytes:
    return b"".join(erc20_period_terms(limit) for limit in limits)


def timestamp_terms(after: int, before: int) -> bytes:
    return after.to_bytes(16, "big") + before.to_bytes(16, "big")


def value_lte_terms(most: int) -> bytes:
    return _word(most)


def decode_erc20_period(terms: bytes) -> PeriodTerms:
    if len(terms) != _PERIOD_ENTRY:
        raise ValueError("ERC20PeriodTransferEnforcer terms are 116 bytes")
    return PeriodTerms(
        to_checksum_address(terms[:20]),
        int.from_bytes(terms[20:52], "big"),
        int.from_bytes(terms[52:84], "big"),
        int.from_bytes(terms[84:116], "big"),
    )


def decode_native_period(terms: bytes) -> PeriodTerms:
    if len(terms) != 96:
        raise ValueError("NativeTokenPeriodTransferEnforcer terms are 96 bytes")
    words = [int.from_bytes(terms[i : i + 32], "big") for i in range(0, 96, 32)]
    return PeriodTerms(NATIVE, words[0], words[1], words[2])


def decode_multi_token(terms: bytes) -> tuple[PeriodTerms, ...]:
    if not terms or len(terms) % _PERIOD_ENTRY:
        raise ValueError("MultiTokenPeriodEnforcer terms are a multiple of 116 bytes")
    return tuple(
        decode_erc20_period(terms[i : i + _PERIOD_ENTRY])
        for i in range(0, len(terms), _PERIOD_ENTRY)
    )


def decode_timestamp(terms: bytes) -> tuple[int, int]:
    if len(terms) != 32:
        raise ValueError("TimestampEnforcer terms are 32 bytes")
    return int.from_bytes(terms[:16], "big"), int.from_bytes(terms[16:], "big")


def _limit_phrase(limit: PeriodTerms, symbol: str, decimals: int) -> str:
    unit = symbol or f"units of {limit.token}"
    amount = format_units(limit.amount, decimals) if symbol else str(limit.amount)
    return f"{amount} {unit}{format_period(limit.duration)} from {format_time(limit.start)}"


def describe(
    enforcers: Enforcers, enforcer: str, terms: bytes, names: dict[str, tuple[str, int]]
) -> str:
    """One line saying what a caveat's hex terms mean; `names` maps a lower-case token address
    to (symbol, decimals) as the grant signed them."""

    def phrase(limit: PeriodTerms) -> str:
        symbol, decimals = names.get(limit.token.lower(), ("", 0))
        return _limit_phrase(limit, symbol, decimals)

    kind = enforcers.name_of(enforcer)
    if kind == "erc20_period":
        return "ERC20PeriodTransfer: " + phrase(decode_erc20_period(terms))
    if kind == "native_period":
        return "NativeTokenPeriodTransfer: " + phrase(decode_native_period(terms))
    if kind == "multi_token_period":
        return "MultiTokenPeriod: " + "; ".join(phrase(x) for x in decode_multi_token(terms))
    if kind == "timestamp":
        after, before = decode_timestamp(terms)
        return f"Timestamp: after {format_time(after)}, before {format_time(before)}"
    if kind == "value_lte":
        return f"ValueLte: at most {int.from_bytes(terms, 'big')} wei per call"
    if kind == "exact_calldata":
        return "ExactCalldata: " + (
            "plain value transfers only" if not terms else "0x" + terms.hex()
        )
    return f"unknown enforcer {enforcer}: 0x{terms.hex()}"
