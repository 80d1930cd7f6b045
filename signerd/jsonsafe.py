"""JSON that every language reads right: integers beyond 2^53 - 1 travel as decimal strings.

JavaScript's ``JSON.parse`` (and any reader that maps JSON numbers to IEEE doubles) silently
rounds an integer past ``Number.MAX_SAFE_INTEGER``: a grant's nonce 15340456358815673520
would come back as 15340456358815674000, and a JavaScript verifier would hash another grant.
EIP-712 JSON allows a uint as a decimal string (eth-account, ethers and viem all take one), so
what the daemon sends (``signerd.rpc.protocol.encode``) and what the CLI prints carry such
integers as strings; the hashes do not change, and every reader of signerd's (verification,
the typed params) accepts both forms. Integers up to 2^53 - 1 stay numbers.
"""

from __future__ import annotations

from typing import Any, Final

MAX_SAFE_INTEGER: Final = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER


def js_safe(value: Any) -> Any:
    """``value`` with every integer beyond +-MAX_SAFE_INTEGER as a decimal string.

    Containers are copied only where something changes, so a reply without big integers costs
    one walk and no allocation.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, dict):
        changed = {k: v2 for k, v in value.items() if (v2 := js_safe(v)) is not v}
        return {**value, **changed} if changed else value
    if isinstance(value, list | tuple):
        items = [js_safe(item) for item in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return items
        return value
    return value
