"""Typed parameters of the payment methods (``signerd_signPayment``, ``signerd_getBudget``,
``signerd_listSpends``), checked before a method runs like those of ``rpc/params.py``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from signerd.rpc.params import MAX_PAGE, Fields

# The ledger's ``seq`` is a SQLite integer.
_MAX_SEQ = 2**63 - 1


@dataclass(frozen=True)
class SignPaymentParams:
    """``signerd_signPayment``: a grant and the EIP-3009 typed data to sign under it."""

    grant_id: str
    typed_data: dict[str, Any]

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grantId", "typedData"}))
        grant_id = fields.grant_id("grantId")
        return cls(grant_id, fields.mapping("typedData", "an EIP-712 typed-data object"))


@dataclass(frozen=True)
class BudgetParams:
    """``signerd_getBudget``: where each allowance of a grant stands now."""

    grant_id: str

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        return cls(Fields(params, frozenset({"grantId"})).grant_id("grantId"))


@dataclass(frozen=True)
class ListSpendsParams:
    """``signerd_listSpends``: spends newest first, optionally one grant's, a page at a time."""

    grant_id: str | None
    limit: int
    before: int | None

    @classmethod
    def parse(cls, params: Mapping[str, Any], *, now: int) -> Self:
        fields = Fields(params, frozenset({"grantId", "limit", "before"}))
        grant_id = fields.optional_grant_id("grantId")
        limit = fields.integer("limit", 50, 1, MAX_PAGE)
        has_before = params.get("before") is not None
        before = fields.integer("before", _MAX_SEQ, 1, _MAX_SEQ) if has_before else None
        return cls(grant_id, limit, before)
