"""An agent's grant request: the JSON it sends, checked and turned into a typed value.

Validation happens here, up front, before anything reaches policy or a device: every value
the store, the schema or a screen would refuse later (chain id range, timestamps, a summary
too long to show) is refused now. Every failure raises ValidationError naming the offending
field as a dotted path ("allowances.1.amount").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.agent import label as check_label
from signerd.grants.schema import (
    ALLOWANCE_FIELDS,
    MAX_ALLOWANCES,
    MAX_CHAIN_ID,
    MAX_PAYEES,
    MAX_STRING,
    MAX_TARGETS,
    MAX_TIMESTAMP,
    MAX_WINDOW,
    UINT64_MAX,
    UINT256_MAX,
)
from signerd.grants.summary import summarize, summary_problem
from signerd.grants.tokens import (
    BUILTIN_TOKENS,
    UNNAMED,
    TokenInfo,
    TokenTable,
    check_token_name,
    name_token,
)

_REQUIRED = ("chainId", "sessionKey", "agent", "allowances", "targets")
_OPTIONAL = ("payees", "validAfter", "validUntil", "validFor", "nonce")
_ALLOWANCE_REQUIRED = ("token", "amount", "period")
_DAEMON_FILLED = ("symbol", "decimals")


@dataclass(frozen=True)
class AllowanceSpec:
    """Up to ``amount`` base units of ``token`` per ``period`` seconds (0: over the whole grant).

    ``max_per_payment`` bounds each payment (0: only the window's amount does); ``symbol`` and
    ``decimals`` are the daemon's name for the token ("" and 0 when it has none).
    """

    token: str  # checksummed; the zero address is the chain's native coin
    amount: int
    period: int
    max_per_payment: int = 0
    symbol: str = ""
    decimals: int = 0

    def to_json(self) -> dict[str, Any]:
        """The Allowance struct value as it appears in the typed data."""
        return {
            "token": self.token,
            "symbol": self.symbol,
            "decimals": self.decimals,
            "amount": self.amount,
            "period": self.period,
            "maxPerPayment": self.max_per_payment,
        }


@dataclass(frozen=True)
class GrantRequest:
    """A validated request; the daemon adds account, agent description and nonce."""

    chain_id: int
    session_key: str | None  # None: the daemon generates the key (``with_session_key``)
    label: str
    allowances: tuple[AllowanceSpec, ...]
    payees: tuple[str, ...]
    targets: tuple[str, ...]
    valid_after: int
    valid_until: int
    nonce: int | None
    received_at: int  # the ``now`` it was checked at: policy measures the start horizon from it

    def with_session_key(self, address: str) -> GrantRequest:
        """This request for a session key the daemon generated."""
        return replace(self, session_key=address)

    def named_by(self, tokens: TokenTable) -> GrantRequest:
        """This request with its tokens named by ``tokens``; ValidationError if it then no
        longer fits a screen. The request itself when ``tokens`` names them as it does."""
        names = [name_token(tokens, self.chain_id, a.token) for a in self.allowances]
        if any(
            (a.symbol, a.decimals) != (name.symbol, name.decimals)
            for a, name in zip(self.allowances, names, strict=True)
        ):
            named = replace(
                self,
                allowances=tuple(
                    replace(allowance, symbol=name.symbol, decimals=name.decimals)
                    for allowance, name in zip(self.allowances, names, strict=True)
                ),
            )
        else:
            named = self
        named.check_summary()
        return named

    def check_summary(self) -> None:
        """ValidationError, naming the part that overflows, if the summary does not fit the
        one screen it is shown on whole."""
        if len(self.summary()) > MAX_STRING:
            problem = summary_problem(self.summary_fields(), self.chain_id)
            if problem is not None:
                raise ValidationError(*problem)

    def summary_fields(self) -> dict[str, Any]:
        """The message fields the summary is computed from."""
        return {
            "allowances": [allowance.to_json() for allowance in self.allowances],
            "payees": list(self.payees),
            "targets": list(self.targets),
            "validUntil": self.valid_until,
        }

    def summary(self) -> str:
        """The summary the device will show for this request."""
        return self._summary

    @cached_property
    def _summary(self) -> str:
        # Asked by the parse, the flow and the typed data: written once per request.
        return summarize(self.summary_fields(), self.chain_id)


def parse_grant_request(
    data: Mapping[str, Any],
    *,
    now: int,
    generate: bool = False,
    tokens: TokenTable | None = BUILTIN_TOKENS,
) -> GrantRequest:
    """Check an agent's JSON request against every rule; ``now`` is the current Unix time.

    With ``generate`` the daemon creates the session key, so the request must not name one.
    ``tokens`` names the tokens in the summary (the daemon passes its configured table);
    None leaves them unnamed and the summary unchecked, for a caller that names them with
    its own table (``named_by``, which checks the summary) before anything else.
    """
    required = tuple(name for name in _REQUIRED if not (generate and name == "sessionKey"))
    optional = (*_OPTIONAL, "sessionKey") if generate else _OPTIONAL
    fields.obj(data, "", required=required, optional=optional)
    if generate and "sessionKey" in data:
        raise ValidationError("sessionKey", "give either sessionKey or generate, not both")
    chain_id = fields.uint(data["chainId"], "chainId", minimum=1, maximum=MAX_CHAIN_ID)
    session_key = None if generate else fields.address(data["sessionKey"], "sessionKey")
    label = check_label(data["agent"], "agent")
    allowances = parse_allowances(data["allowances"], "allowances", requested=True)
    payees = parse_addresses(data.get("payees", []), "payees", max_items=MAX_PAYEES)
    check_payees(allowances, payees, "payees")
    targets = parse_addresses(data["targets"], "targets", max_items=MAX_TARGETS)

    if "validUntil" in data and "validFor" in data:
        raise ValidationError("validFor", "give either validUntil or validFor, not both")
    duration = (
        fields.uint(data["validFor"], "validFor", minimum=1, maximum=MAX_WINDOW)
        if "validFor" in data
        else None
    )
    if "validAfter" in data:
        valid_after = fields.uint(data["validAfter"], "validAfter", maximum=MAX_TIMESTAMP)
    elif duration is not None and duration >= 60:
        # From the start of the current minute, so that whole minutes end on a whole minute,
        # which the summary writes without seconds. Nothing can be spent before the request.
        valid_after = now - now % 60
    else:
        valid_after = now
    if "validUntil" in data:
        until_field = "validUntil"
        valid_until = fields.uint(data["validUntil"], until_field, maximum=MAX_TIMESTAMP)
    elif duration is not None:
        until_field = "validFor"
        valid_until = valid_after + duration
        if valid_until > MAX_TIMESTAMP:
            raise ValidationError(until_field, "ends after the year 9999")
    else:
        raise ValidationError("validUntil", "is required (or give validFor in seconds)")
    check_window(valid_after, valid_until, until_field)
    if valid_until <= now:
        raise ValidationError(until_field, "ends in the past")

    nonce = fields.uint(data["nonce"], "nonce", maximum=UINT256_MAX) if "nonce" in data else None
    request = GrantRequest(
        chain_id=chain_id,
        session_key=session_key,
        label=label,
        allowances=allowances,
        payees=payees,
        targets=targets,
        valid_after=valid_after,
        valid_until=valid_until,
        nonce=nonce,
        received_at=now,
    )
    return request if tokens is None else request.named_by(tokens)


def parse_allowances(
    value: Any, field: str, *, requested: bool = False
) -> tuple[AllowanceSpec, ...]:
    """The allowance list: each {token, amount >= 1, period, maxPerPayment <= amount}, no
    (token, period) twice. A request (``requested``) may omit maxPerPayment (0) and must not
    name the token, which is the daemon's to do; a signed (version 2) grant carries all six
    fields."""
    result: list[AllowanceSpec] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(fields.array(value, field, max_items=MAX_ALLOWANCES)):
        at = fields.path(field, index)
        if requested:
            for key in _DAEMON_FILLED:
                if isinstance(item, Mapping) and key in item:
                    raise ValidationError(
                        fields.path(at, key), "is filled in by the daemon from its token table"
                    )
            fields.obj(item, at, required=_ALLOWANCE_REQUIRED, optional=("maxPerPayment",))
        else:
            fields.obj(item, at, required=ALLOWANCE_FIELDS)
        token = fields.address(item["token"], fields.path(at, "token"), allow_zero=True)
        name = UNNAMED if requested else _signed_name(token, item, at)
        amount = fields.uint(
            item["amount"], fields.path(at, "amount"), minimum=1, maximum=UINT256_MAX
        )
        spec = AllowanceSpec(
            token=token,
            amount=amount,
            period=fields.uint(item["period"], fields.path(at, "period"), maximum=UINT64_MAX),
            max_per_payment=fields.uint(
                item.get("maxPerPayment", 0), fields.path(at, "maxPerPayment"), maximum=amount
            ),
            symbol=name.symbol,
            decimals=name.decimals,
        )
        # Two caps on the same token and period would leave the effective one ambiguous.
        if (spec.token, spec.period) in seen:
            raise ValidationError(at, "repeats the token and period of another allowance")
        seen.add((spec.token, spec.period))
        result.append(spec)
    return tuple(result)


def _signed_name(token: str, item: Mapping[str, Any], field: str) -> TokenInfo:
    """The symbol and decimals a signed allowance names its token by: a name, or unnamed."""
    if not isinstance(item["symbol"], str):
        raise ValidationError(fields.path(field, "symbol"), "must be a string")
    decimals = fields.uint(item["decimals"], fields.path(field, "decimals"), maximum=255)
    name = TokenInfo(item["symbol"], decimals)
    check_token_name(token, name, field)
    return name


def parse_addresses(value: Any, field: str, *, max_items: int) -> tuple[str, ...]:
    """Payees or targets: distinct, checksummed, never the zero address."""
    result: list[str] = []
    for index, item in enumerate(fields.array(value, field, max_items=max_items)):
        item_field = fields.path(field, index)
        address = fields.address(item, item_field)
        if address in result:
            raise ValidationError(item_field, "repeats another address")
        result.append(address)
    return tuple(result)


def check_payees(
    allowances: tuple[AllowanceSpec, ...], payees: tuple[str, ...], field: str
) -> None:
    """Payees restrict payments, so they mean nothing (and are refused) without an allowance."""
    if payees and not allowances:
        raise ValidationError(field, "must be empty when there is no allowance to pay from")


def check_window(valid_after: int, valid_until: int, field: str) -> None:
    """validUntil after validAfter, by at most MAX_WINDOW seconds; ``field`` names the end."""
    if valid_until <= valid_after:
        raise ValidationError(field, "must end after validAfter")
    if valid_until - valid_after > MAX_WINDOW:
        raise ValidationError(field, f"window is longer than {MAX_WINDOW // 86_400} days")
