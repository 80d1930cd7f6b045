"""The EIP-712 schema of a session grant (version 2), where its summary sits, and screen limits.

Everything here is part of what a verifier checks: changing a type, a name, a limit or a table
the summary reads (``CHAIN_NAMES``) changes which grants are valid, so it needs a new
DOMAIN_VERSION. Version 1 grants keep verifying under their own rules (``grants/v1.py``).

Version 2, designed for approvals (what the person sees) and payments (what a grant limits)::

    EIP712Domain(string name,string version,uint256 chainId)
        name = the summary, version = "2"
    SessionGrant(string summary,string agent,address account,address sessionKey,
                 Allowance[] allowances,address[] payees,address[] targets,
                 uint64 validAfter,uint64 validUntil,uint256 nonce)
    Allowance(address token,string symbol,uint8 decimals,uint256 amount,uint64 period,
              uint256 maxPerPayment)

- ``amount`` base units of ``token`` per fixed window of ``period`` seconds from validAfter
  (0: one window, the whole validity). ``maxPerPayment`` bounds each single payment (0: no
  bound beyond the window's amount; else 1..amount). ``payees``: who payments may go to
  (empty: anyone; must be empty without allowances).
- ``symbol`` and ``decimals`` name the token in the summary. The daemon fills them from its
  token table (built-in + the ``[tokens]`` config), never from the request; a token it cannot
  name with certainty gets ``symbol`` "" and ``decimals`` 0 and is shown as raw units and a
  short address. Being signed, they let every verifier recompute the summary without the
  daemon's tables; the chain's name is the only table the summary reads (``CHAIN_NAMES``,
  frozen with this version; unknown chains read "chain 999").
- ``agent`` is ``"label" via uid U pid P exe PATH``: the agent's label, confined to
  ``LABEL_CHARACTERS`` and quoted, then what the kernel told the daemon (``grants/agent.py``).

Where the summary sits, and why: in ``domain.name`` and again as the first message field.

- Trezor (trezor-firmware core/src/apps/ethereum/sign_typed_data.py): after the signing
  address, the domain is confirmed before the message. Up to core/v2.12.2 the unopened domain
  screen is "Confirm domain: Name and version, <name>, <version>" with an optional "Show full
  domain" (v2.12.0 layout.py lines 448-462 ``should_show_domain``; sign_typed_data.py lines
  97-106). From core/v2.12.3 (commit b408aa0 "simplify EIP-712 domain confirmation flow") every
  domain field is confirmed on one properties screen (HEAD sign_typed_data.py lines 96-102 and
  406-414). The message is then one "Confirm message" screen listing only the primary type and
  its key names (layout.py lines 454-480 ``should_show_struct``), which the person may confirm
  without opening (sign_typed_data.py lines 113-118). The domain's name is therefore the one
  value of ours a Trezor always shows; the version, "2", stays the schema's.
- Ledger Ethereum app (app-ethereum src/features/sign_message_eip712/ui_logic.c lines 131-148
  ``ui_712_field_shown``): on a Nano the domain's fields are shown even without "Raw
  messages", the message's only with it; commands_712.c lines 137-149 put "Review struct
  EIP712Domain" first. The SDK's Nano review (ledger-secure-sdk
  lib_nbgl/src/nbgl_use_case_nanos.c lines 1283-1300) offers "press both to skip" before
  every pair but the first, so after that fixed first pair the domain's name is the earliest
  value a person can be shown, and the whole rest can be skipped. On Stax/Flex
  (nbgl_use_case.c lines 1306-1318) "Skip" appears on the pages of pairs, whose first page
  starts with the domain struct and its name.
- ``message.summary`` repeats it as the first message field: what the person reads first on
  opening the message on a Trezor or stepping on through a Ledger, and what listings, the
  audit and the API quote. Every verifier checks both against the recomputed summary.

Screen limits: the Ledger app copies a string value into a 100-byte buffer including its NUL
(``strings.tmp.tmp``), so a value of 100 bytes silently loses its last character; field names
go into a 40-byte buffer; its fonts are ASCII. So every string is printable ASCII of at most
MAX_STRING characters, and a request whose summary would be longer is refused, never cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

DOMAIN_VERSION: Final = "2"
PRIMARY_TYPE: Final = "SessionGrant"

TYPES: Final[dict[str, list[dict[str, str]]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "SessionGrant": [
        {"name": "summary", "type": "string"},
        {"name": "agent", "type": "string"},
        {"name": "account", "type": "address"},
        {"name": "sessionKey", "type": "address"},
        {"name": "allowances", "type": "Allowance[]"},
        {"name": "payees", "type": "address[]"},
        {"name": "targets", "type": "address[]"},
        {"name": "validAfter", "type": "uint64"},
        {"name": "validUntil", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ],
    "Allowance": [
        {"name": "token", "type": "address"},
        {"name": "symbol", "type": "string"},
        {"name": "decimals", "type": "uint8"},
        {"name": "amount", "type": "uint256"},
        {"name": "period", "type": "uint64"},
        {"name": "maxPerPayment", "type": "uint256"},
    ],
}

MESSAGE_FIELDS: Final = tuple(field["name"] for field in TYPES[PRIMARY_TYPE])
ALLOWANCE_FIELDS: Final = tuple(field["name"] for field in TYPES["Allowance"])

ZERO_ADDRESS: Final = "0x0000000000000000000000000000000000000000"
"""As an allowance token: the chain's native coin. Never a session key, payee or target."""

MAX_ALLOWANCES: Final = 8
MAX_PAYEES: Final = 8
MAX_TARGETS: Final = 16
MAX_STRING: Final = 99
"""Longest string value (summary, agent) in bytes = characters: shown whole on a Ledger Nano."""
MAX_FIELD_NAME: Final = 39
"""Longest field or type name: a Ledger title buffer holds 39 characters plus NUL."""
MAX_LABEL: Final = 48
"""Longest agent label a request may carry; the daemon adds uid, pid and executable."""
LABEL_CHARACTERS: Final = "letters, digits and - _ ."
"""What a label may hold, in words: nothing the daemon's part uses (quotes, spaces, slashes)."""
MAX_SYMBOL: Final = 11
"""Longest token symbol (ERC-20 symbols in use are at most 11 characters)."""
MAX_DECIMALS: Final = 36
NATIVE_DECIMALS: Final = 18
"""EVM native coins count in units of 10**-18 (wei) on every chain."""

UINT64_MAX: Final = 2**64 - 1
UINT256_MAX: Final = 2**256 - 1
MAX_CHAIN_ID: Final = UINT64_MAX // 2 - 36
"""EIP-2294's bound on chain ids; it also fits the store's signed 64-bit column and the Ledger
app's uint64 chain id, so no accepted request is refused later."""
MAX_TIMESTAMP: Final = 253_402_300_799
"""9999-12-31T23:59:59Z: later instants fit a uint64 but cannot be written as a date."""
MAX_WINDOW: Final = 366 * 86_400
"""Longest validity window, in seconds: a grant lives at most a (leap) year."""

CHAIN_NAMES: Final[Mapping[int, str]] = {
    1: "Ethereum",
    10: "OP Mainnet",
    56: "BNB Chain",
    100: "Gnosis",
    137: "Polygon",
    8453: "Base",
    17000: "Holesky",
    42161: "Arbitrum One",
    43114: "Avalanche",
    80002: "Polygon Amoy",
    84532: "Base Sepolia",
    11155111: "Sepolia",
}
"""The chain names summaries use; any other chain is "chain <id>". Part of version 2."""

# Native coin names by chain id, as the summaries of schema versions 1 and 2 print them. Part
# of what a verifier recomputes: a change needs a new schema version with a table of its own.
NATIVE_COIN_NAMES: Final[Mapping[int, str]] = {
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
