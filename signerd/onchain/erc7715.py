"""ERC-7715 execution permissions as signerd grants: parse a request, answer with a response.

Shapes are npm ``@metamask/7715-permission-types`` 2.0.0's: a request is ``{chainId, from?, to,
permission: {type, isAdjustmentAllowed, data}, rules?}`` and a response adds ``context`` (the
ABI-encoded ``Delegation[]`` a redeemer passes to ``redeemDelegations``), ``dependencies``
(``{factory, factoryData}`` that deploy the delegating account, while it has no code) and
``delegationManager``. Each supported permission is one grant allowance, so the grant the
person approves first says the same as the delegation that follows:

- ``erc20-token-periodic`` {tokenAddress, periodAmount, periodDuration, startTime?}: the
  token, periodAmount per periodDuration;
- ``native-token-periodic`` {periodAmount, periodDuration, startTime?}: the native coin, same;
- ``erc20-token-allowance`` {tokenAddress, allowanceAmount, startTime?}: the token,
  allowanceAmount over the whole validity (period 0);
- ``native-token-allowance`` {allowanceAmount, startTime?}: the native coin, the same.

``startTime`` (default: now) is the grant's validAfter; the ``expiry`` rule is its validUntil
and is required (a grant always ends). ``to`` is the session key, ``from`` the delegating
account (default: the device owner's HybridDeleGator). Streams and revocation permissions
are not grants signerd can express: PermissionUnsupported, like any other type or rule.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from signerd.addresses import is_hex_address, to_checksum_address
from signerd.errors import PermissionUnsupported, ValidationError
from signerd.grants.schema import MAX_CHAIN_ID
from signerd.onchain.caveats import NATIVE

PERIODIC: Final = ("erc20-token-periodic", "native-token-periodic")
ALLOWANCE: Final = ("erc20-token-allowance", "native-token-allowance")
SUPPORTED: Final = PERIODIC + ALLOWANCE
RULE_TYPES: Final = ("expiry",)
AGENT_LABEL: Final = "erc-7715"
_HEX_NUMBER: Final = re.compile(r"0x[0-9a-fA-F]{1,64}")
_UINT256: Final = 2**256


@dataclass(frozen=True)
class PermissionRequest:
    """One checked request: what it asks, and the request itself to echo back."""

    chain_id: int
    delegator: str | None
    session: str
    kind: str
    token: str
    amount: int
    period: int  # 0: over the whole validity
    start: int
    expiry: int
    raw: Mapping[str, Any]
    # Where each signerd_requestGrant param comes from in the request ("validUntil" ->
    # "0.rules.0.data.timestamp"), so a grant's refusal names what the caller sent.
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def field_of(self, grant_field: str) -> str:
        """The request's path for a field of ``grant_params`` (its own path if unknown)."""
        return self.fields.get(grant_field, self.fields.get("", grant_field))

    def grant_params(self) -> dict[str, Any]:
        """The ``signerd_requestGrant`` params of this permission."""
        return {
            "agent": AGENT_LABEL,
            "sessionKey": self.session,
            "chainId": self.chain_id,
            "allowances": [
                {"token": self.token, "amount": str(self.amount), "period": self.period}
            ],
            "targets": [],
            "validAfter": self.start,
            "validUntil": self.expiry,
        }


def parse_requests(raw: Any, *, now: int) -> list[PermissionRequest]:
    """``wallet_requestExecutionPermissions``' params (an array of requests); ValidationError
    names the field (``0.permission.data.periodAmount``), PermissionUnsupported the type."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError("params", "must be a non-empty array of permission requests")
    return [_request(item, str(i), now) for i, item in enumerate(raw)]


def _request(item: Any, where: str, now: int) -> PermissionRequest:
    body = _object(item, where, {"chainId", "to", "permission"}, {"from", "rules"})
    chain_id = _hex_int(body["chainId"], f"{where}.chainId", MAX_CHAIN_ID + 1)
    if chain_id == 0:
        raise ValidationError(f"{where}.chainId", "must not be 0")
    session = _address(body["to"], f"{where}.to")
    delegator = None if body.get("from") is None else _address(body["from"], f"{where}.from")
    permission = _object(
        body["permission"], f"{where}.permission", {"type", "isAdjustmentAllowed", "data"}, set()
    )
    kind = permission["type"]
    if kind not in SUPPORTED:
        raise PermissionUnsupported(
            f"permission type {kind!r} is not supported; supported: {', '.join(SUPPORTED)}",
            {"type": kind if isinstance(kind, str) else None},
        )
    if not isinstance(permission["isAdjustmentAllowed"], bool):
        raise ValidationError(f"{where}.permission.isAdjustmentAllowed", "must be true or false")
    data_at = f"{where}.permission.data"
    token, amount, period, start = _data(kind, permission["data"], data_at)
    expiry, expiry_at = _expiry(body.get("rules"), f"{where}.rules", now)
    start = now if start is None else start
    if start >= expiry:
        raise ValidationError(f"{data_at}.startTime", "must be before the expiry")
    fields = {
        "": where,
        "sessionKey": f"{where}.to",
        "chainId": f"{where}.chainId",
        "validAfter": f"{data_at}.startTime",
        "validUntil": expiry_at,
        "allowances": data_at,
        "allowances.0": data_at,
        "allowances.0.token": f"{data_at}.tokenAddress",
        "allowances.0.amount": f"{data_at}.{_amount_key(kind)}",
        "allowances.0.period": f"{data_at}.periodDuration",
        "payees": data_at,
    }
    return PermissionRequest(
        chain_id, delegator, session, kind, token, amount, period, start, expiry, body, fields
    )


def _data(kind: str, raw: Any, where: str) -> tuple[str, int, int, int | None]:
    erc20 = kind.startswith("erc20")
    amount_key = _amount_key(kind)
    required = {amount_key} | ({"periodDuration"} if kind in PERIODIC else set())
    required |= {"tokenAddress"} if erc20 else set()
    data = _object(raw, where, required, {"startTime", "justification"})
    token = _address(data["tokenAddress"], f"{where}.tokenAddress") if erc20 else NATIVE
    if erc20 and token.lower() == NATIVE:  # signerd's name for the native coin
        raise ValidationError(
            f"{where}.tokenAddress", "is the zero address: ask for native-token-*"
        )
    amount = _hex_int(data[amount_key], f"{where}.{amount_key}", _UINT256)
    if amount == 0:
        raise ValidationError(f"{where}.{amount_key}", "must be more than 0")
    period = 0
    if kind in PERIODIC:
        period = _number(data["periodDuration"], f"{where}.periodDuration")
        if period == 0:
            raise ValidationError(f"{where}.periodDuration", "must be at least 1 second")
    start = data.get("startTime")
    if start is not None:
        start = _number(start, f"{where}.startTime")
    justification = data.get("justification")
    if justification is not None and not isinstance(justification, str):
        raise ValidationError(f"{where}.justification", "must be a string")
    return token, amount, period, start


def _amount_key(kind: str) -> str:
    """The data field a permission of ``kind`` states its amount in."""
    return "periodAmount" if kind in PERIODIC else "allowanceAmount"


def _expiry(rules: Any, where: str, now: int) -> tuple[int, str]:
    """The expiry rule's timestamp, and its path."""
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise ValidationError(where, "must be an array of rules")
    expiry = None
    for index, raw in enumerate(rules):
        rule = _object(raw, f"{where}.{index}", {"type", "data"}, set())
        if rule["type"] not in RULE_TYPES:
            raise PermissionUnsupported(
                f"rule type {rule['type']!r} is not supported; supported: expiry",
                {"type": rule["type"] if isinstance(rule["type"], str) else None},
            )
        data = _object(rule["data"], f"{where}.{index}.data", {"timestamp"}, set())
        if expiry is not None:
            raise ValidationError(f"{where}.{index}", "only one expiry rule")
        expiry_at = f"{where}.{index}.data.timestamp"
        expiry = _number(data["timestamp"], expiry_at)
        if expiry <= now:
            raise ValidationError(expiry_at, "is in the past")
    if expiry is None:
        raise ValidationError(where, "needs an expiry rule: a signerd grant always ends")
    return expiry, expiry_at


def permission_of_grant(message: Mapping[str, Any]) -> tuple[str, dict[str, Any], list[Any]]:
    """(type, data, rules) of a stored grant's typed-data message, for
    ``wallet_getGrantedExecutionPermissions`` (grants made from one permission)."""
    (allowance,) = message["allowances"]
    token, amount, period = allowance["token"], int(allowance["amount"]), allowance["period"]
    native = token.lower() == NATIVE
    data: dict[str, Any] = {} if native else {"tokenAddress": token}
    if period:
        kind = "native-token-periodic" if native else "erc20-token-periodic"
        data |= {"periodAmount": hex(amount), "periodDuration": period}
    else:
        kind = "native-token-allowance" if native else "erc20-token-allowance"
        data |= {"allowanceAmount": hex(amount)}
    data["startTime"] = int(message["validAfter"])
    rules = [{"type": "expiry", "data": {"timestamp": int(message["validUntil"])}}]
    return kind, data, rules


def _object(value: Any, where: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(where, "must be an object")
    for key in value:
        if key not in required and key not in optional:
            raise ValidationError(f"{where}.{key}", "unknown field")
    for key in sorted(required):
        if key not in value:
            raise ValidationError(f"{where}.{key}", "is missing")
    return value


def _hex_int(value: Any, where: str, limit: int) -> int:
    # Not int(value, 16) alone: it also takes "0x7a_69", " 0x7a69 " and non-ASCII digits.
    if not isinstance(value, str) or not _HEX_NUMBER.fullmatch(value):
        raise ValidationError(where, "must be a 0x-prefixed hex number")
    number = int(value, 16)
    if number >= limit:
        raise ValidationError(where, "is too large")
    return number


def _number(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise ValidationError(where, "must be a whole number of seconds")
    return value


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not is_hex_address(value):
        raise ValidationError(where, "must be an address (0x + 40 hex digits)")
    return to_checksum_address(value)
