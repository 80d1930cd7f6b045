"""What a person types for a grant: the command line's shorthand and the JSON files it reads.

``--allow TOKEN:AMOUNT[:PERIOD[:MAX]]`` and ``--valid-for 1d`` become the request dict an agent
would send (``parse_grant_request`` and the daemon check it in full; this module only turns
shorthand into that shape). Files handed over on the command line are parsed here too, so
every entry point reports a bad document the same way: a ValidationError naming its source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import IO, Any

from signerd.errors import ValidationError
from signerd.grants.schema import ZERO_ADDRESS

# Seconds per unit of a duration like 30m or 1d; no unit means seconds.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)([smhdw]?)")
# Ways to say "the chain's native coin" instead of typing the zero address.
_NATIVE_ALIASES = frozenset({"0", "0x0", "native", "eth"})


def parse_duration(text: str, field: str = "validFor") -> int:
    """Seconds in ``3600``, ``30m``, ``2h``, ``1d`` or ``1w``."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValidationError(field, f"{text!r}: use seconds or a number with s/m/h/d/w")
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_allowance(text: str, field: str = "allowances") -> dict[str, Any]:
    """``TOKEN:AMOUNT[:PERIOD[:MAX]]`` as an allowance of the request: period 0 is the whole
    grant; MAX, the most one payment may take (base units), is left out when not given."""
    parts = text.split(":")
    if len(parts) not in (2, 3, 4):
        raise ValidationError(field, f"{text!r}: use TOKEN:AMOUNT[:PERIOD[:MAX]]")
    token = ZERO_ADDRESS if parts[0] in _NATIVE_ALIASES else parts[0]
    period = parse_duration(parts[2], f"{field}.period") if len(parts) >= 3 else 0
    allowance: dict[str, Any] = {"token": token, "amount": parts[1], "period": period}
    if len(parts) == 4:
        allowance["maxPerPayment"] = parts[3]
    return allowance


def request_params(
    *,
    agent: str,
    chain_id: int,
    allowances: Sequence[dict[str, Any]],
    targets: Sequence[str],
    valid_for: int,
    payees: Sequence[str] = (),
    session_key: str | None = None,
    generate: bool = False,
    hold: bool = False,
) -> dict[str, Any]:
    """The ``signerd_requestGrant`` params for the command line's options."""
    params: dict[str, Any] = {
        "agent": agent,
        "chainId": chain_id,
        "allowances": list(allowances),
        "targets": list(targets),
        "validFor": valid_for,
    }
    if payees:
        params["payees"] = list(payees)
    if session_key:
        params["sessionKey"] = session_key
    if generate:
        params["generate"] = True
    if hold:
        params["custody"] = "daemon"
    return params


def read_text(file: IO[str]) -> str:
    """What a file handed over on the command line holds, as text (ValidationError if not)."""
    try:
        return file.read()
    except UnicodeDecodeError:
        raise ValidationError(file.name, "not UTF-8 text") from None


def load_json(text: str, source: str) -> Any:
    """The JSON value in ``text``; ``source`` (a file name, ``<stdin>``) names it in errors."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(source, f"not JSON: {exc}") from None


def load_request(text: str, source: str) -> dict[str, Any]:
    """A grant request file: one JSON object in the format agents send."""
    value = load_json(text, source)
    if not isinstance(value, dict):
        raise ValidationError(source, "the request must be a JSON object")
    return value


def load_signed_grant(text: str, source: str) -> Any:
    """A signed grant as ``sign-grant`` prints it, or the daemon's requestGrant reply holding one.

    Anything else is returned as it is, for ``verify_grant`` to say what is wrong with it.
    """
    document = load_json(text, source)
    if isinstance(document, dict) and "grant" in document and "typedData" not in document:
        return document["grant"]
    return document
