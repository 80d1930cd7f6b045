"""The EIP-712 schema of a session grant and the limits that keep it readable on device screens.

Everything here is part of what a verifier checks: changing a type, a name or a limit changes
which grants are valid, so it needs a new DOMAIN_VERSION.

Screen limits come from the devices: the Ledger Ethereum app copies a string value into a
100-byte buffer including its NUL terminator (``strings.tmp.tmp``), so a value of 100 bytes
silently loses its last character; field titles go into a 40-byte buffer. Its fonts are ASCII,
so every string we put in a grant is printable ASCII, where characters and bytes coincide.
"""

from __future__ import annotations

from typing import Final

DOMAIN_NAME: Final = "signerd"
DOMAIN_VERSION: Final = "1"
PRIMARY_TYPE: Final = "SessionGrant"

TYPES: Final[dict[str, list[dict[str, str]]]] = {
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

MESSAGE_FIELDS: Final = tuple(field["name"] for field in TYPES[PRIMARY_TYPE])
ALLOWANCE_FIELDS: Final = tuple(field["name"] for field in TYPES["Allowance"])

ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"
"""As an allowance token: the chain's native coin. Never a session key or a target."""

MAX_ALLOWANCES: Final = 8
MAX_TARGETS: Final = 16
MAX_STRING: Final = 99
"""Longest string value (agent, summary) in bytes = characters: shown whole on a Ledger Nano."""
MAX_FIELD_NAME: Final = 39
"""Longest field or type name: a Ledger title buffer holds 39 characters plus NUL."""
MAX_LABEL: Final = 48
"""Longest agent label a request may carry; the daemon appends uid, pid and executable."""

UINT64_MAX: Final = 2**64 - 1
UINT256_MAX: Final = 2**256 - 1
MAX_TIMESTAMP: Final = 253_402_300_799
"""9999-12-31T23:59:59Z: later instants fit a uint64 but cannot be written as a date."""
MAX_WINDOW: Final = 366 * 86_400
"""Longest validity window, in seconds: a grant lives at most a (leap) year."""
