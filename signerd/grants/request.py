"""An agent's grant request: the JSON it sends, checked and turned into a typed value.

Validation happens here, up front, before anything reaches policy or a device. Every failure
raises ValidationError naming the offending field as a dotted path ("allowances.1.amount").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.schema import (
    ALLOWANCE_FIELDS,
    MAX_ALLOWANCES,
    MAX_LABEL,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    MAX_WINDOW,
    UINT64_MAX,
    UINT256_MAX,
)

_REQUIRED = ("chainId", "sessionKey", "agent", "allowances", "targets")
_OPTIONAL = ("validAfter", "validUntil", "validFor", "nonce")


@dataclass(frozen=True)
class AllowanceSpec:
    """Up to ``amount`` base units of ``token`` per ``period`` seconds (0: over the whole grant)."""

    token: str  # checksummed; the zero address is the chain's native coin
    amount: int
    period: int

    def to_json(self) -> dict[str, Any]:
        """The Allowance struct value as it appears in the typed data."""
        return {"token": self.token, "amount": self.amount, "period": self.period}


@dataclass(frozen=True)
class GrantRequest:
    """A validated request; the daemon adds account, agent description and nonce."""

    chain_id: int
    session_key: str | None  # None: the daemon generates the key (``with_session_key``)
    label: str
    allowances: tuple[AllowanceSpec, ...]
    targets: tuple[str, ...]
    valid_after: int
    valid_until: int
    nonce: int | None

    def with_session_key(self, address: str) -> GrantRequest:
        """This request for a session key the daemon generated."""
        return replace(self, session_key=address)


def parse_grant_request(
    data: Mapping[str, Any], *, now: int, generate: bool = False
) -> GrantRequest:
    """Check an agent's JSON request against every rule; ``now`` is the current Unix time.

    With ``generate`` the daemon creates the session key, so the request must not name one.
    """
    required = tuple(name for name in _REQUIRED if not (generate and name == "sessionKey"))
    optional = (*_OPTIONAL, "sessionKey") if generate else _OPTIONAL
    fields.obj(data, "", required=required, optional=optional)
    if generate and "sessionKey" in data:
        raise ValidationError("sessionKey", "give either sessionKey or generate, not both")
    chain_id = fields.uint(data["chainId"], "chainId", minimum=1, maximum=UINT256_MAX)
    session_key = None if generate else fields.address(data["sessionKey"], "sessionKey")
    label = fields.text(data["agent"], "agent", max_length=MAX_LABEL)
    allowances = parse_allowances(data["allowances"], "allowances")
    targets = parse_targets(data["targets"], "targets")

    valid_after = (
        fields.uint(data["validAfter"], "validAfter", maximum=MAX_TIMESTAMP)
        if "validAfter" in data
        else now
    )
    if "validUntil" in data and "validFor" in data:
        raise ValidationError("validFor", "give either validUntil or validFor, not both")
    if "validUntil" in data:
        until_field = "validUntil"
        valid_until = fields.uint(data["validUntil"], until_field, maximum=MAX_TIMESTAMP)
    elif "validFor" in data:
        until_field = "validFor"
        duration = fields.uint(data["validFor"], until_field, minimum=1, maximum=MAX_WINDOW)
        valid_until = valid_after + duration
        if valid_until > MAX_TIMESTAMP:
            raise ValidationError(until_field, "ends after the year 9999")
    else:
        raise ValidationError("validUntil", "is required (or give validFor in seconds)")
    check_window(valid_after, valid_until, until_field)
    if valid_until <= now:
        raise ValidationError(until_field, "ends in the past")

    nonce = fields.uint(data["nonce"], "nonce", maximum=UINT256_MAX) if "nonce" in data else None
    return GrantRequest(
        chain_id=chain_id,
        session_key=session_key,
        label=label,
        allowances=allowances,
        targets=targets,
        valid_after=valid_after,
        valid_until=valid_until,
        nonce=nonce,
    )


def parse_allowances(value: Any, field: str) -> tuple[AllowanceSpec, ...]:
    """The allowance list: each {token, amount >= 1, period}, no (token, period) twice."""
    result: list[AllowanceSpec] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(fields.array(value, field, max_items=MAX_ALLOWANCES)):
        item_field = fields.path(field, index)
        fields.obj(item, item_field, required=ALLOWANCE_FIELDS)
        spec = AllowanceSpec(
            token=fields.address(item["token"], fields.path(item_field, "token"), allow_zero=True),
            amount=fields.uint(
                item["amount"], fields.path(item_field, "amount"), minimum=1, maximum=UINT256_MAX
            ),
            period=fields.uint(
                item["period"], fields.path(item_field, "period"), maximum=UINT64_MAX
            ),
        )
        # Two caps on the same token and period would leave the effective one ambiguous.
        if (spec.token, spec.period) in seen:
            raise ValidationError(item_field, "repeats the token and period of another allowance")
        seen.add((spec.token, spec.period))
        result.append(spec)
    return tuple(result)


def parse_targets(value: Any, field: str) -> tuple[str, ...]:
    """The contracts the session key may call: distinct, checksummed, never the zero address."""
    result: list[str] = []
    for index, item in enumerate(fields.array(value, field, max_items=MAX_TARGETS)):
        item_field = fields.path(field, index)
        target = fields.address(item, item_field)
        if target in result:
            raise ValidationError(item_field, "repeats another target")
        result.append(target)
    return tuple(result)


def check_window(valid_after: int, valid_until: int, field: str) -> None:
    """validUntil after validAfter, by at most MAX_WINDOW seconds; ``field`` names the end."""
    if valid_until <= valid_after:
        raise ValidationError(field, "must end after validAfter")
    if valid_until - valid_after > MAX_WINDOW:
        raise ValidationError(field, f"window is longer than {MAX_WINDOW // 86_400} days")
