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
    kind = type(value)
    # Exact types first, in the order replies hold them (a grant reply is ~100 values, and
    # this walk was a third of encoding it); subclasses take the general way below.
    if kind is str or value is None or kind is bool or kind is float:
        return value
    if kind is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if kind is dict:
        changed = None
        for key, item in value.items():
            new = js_safe(item)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is list or kind is tuple:
        items = [js_safe(item) for item in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return items
        return value
    if isinstance(value, int):  # bool has no subclasses: handled above
        return js_safe(int(value))
    if isinstance(value, dict):
        return js_safe(dict(value))
    if isinstance(value, list | tuple):
        return js_safe(list(value))
    return value
