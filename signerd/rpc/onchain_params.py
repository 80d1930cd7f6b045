"""Typed parameters of the on-chain methods (``signerd_requestDelegation``,
``signerd_getDelegation``, ``signerd_disableDelegation``), checked like ``rpc/params.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from signerd.errors import ValidationError
from signerd.grants import fields as check
from signerd.rpc.params import MAX_REASON, Fields


@dataclass(frozen=True)
class RequestDelegationParams:
    """A stored grant, and the account it delegates from (default: the device owner's
    HybridDeleGator on the grant's chain)."""

    grant_id: str
    delegator: str | None

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grantId", "delegator"}))
        grant_id = fields.grant_id("grantId")
        delegator = params.get("delegator")
        if delegator is not None:
            delegator = check.address(delegator, "delegator")
        return cls(grant_id, delegator)


@dataclass(frozen=True)
class DelegationIdParams:
    grant_id: str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        grant_id = Fields(params, frozenset({"grantId"})).grant_id("grantId")
        return cls(grant_id)


@dataclass(frozen=True)
class DisableDelegationParams:
    """Revoke a grant and disable its delegation on chain."""

    grant_id: str
    reason: str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grantId", "reason"}))
        grant_id = fields.grant_id("grantId")
        reason = fields.text("reason", max_length=MAX_REASON)
        return cls(grant_id, reason if reason is not None else "revoked on chain by request")


@dataclass(frozen=True)
class TopUpParams:
    """Redeem a held-key grant's delegation: ``amount`` base units to the session key."""

    grant_id: str
    amount: int

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grantId", "amount"}))
        grant_id = fields.grant_id("grantId")
        amount = params.get("amount")
        # ASCII digits only, and no more than a uint256 has: int() refuses the rest ("²",
        # over 4,300 digits), which would surface as an internal error.
        if not (isinstance(amount, str) and amount.isascii() and amount.isdigit()):
            amount = ""
        if not 0 < len(amount) <= 78 or not 0 < int(amount) < 2**256:
            raise ValidationError("amount", "must be a decimal string of base units, above 0")
        return cls(grant_id, int(amount))
