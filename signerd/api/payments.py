"""``signerd_signPayment``, ``signerd_getBudget``, ``signerd_listSpends``: spending within
grants (through the payment flow) and what has been spent. A uid pays from, and reads the
budgets and spends of, only the grants it requested (admin uids: every grant), as it lists,
reads and revokes them (signerd.api.grants)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signerd.api.grants import owner_filter, stored_grant
from signerd.api.registry import API, CallContext, Daemon
from signerd.flows.audit import audited
from signerd.rpc.payment_params import BudgetParams, ListSpendsParams, SignPaymentParams
from signerd.store import AllowanceBudget


@API.method("signerd_signPayment", SignPaymentParams, audited=True)
async def sign_payment(
    daemon: Daemon, ctx: CallContext, params: SignPaymentParams
) -> dict[str, Any]:
    flow = daemon.payments
    peer = ctx.peer.to_json()
    async with audited(daemon.store, peer, daemon.grants.refusals, flow.paid_lines.log) as trail:
        payment = await flow.sign(
            params.grant_id, params.typed_data, trail, owner=owner_filter(daemon, ctx)
        )
    return {"signature": "0x" + payment.signature.hex(), "spend": payment.spend.to_json()}


@API.method("signerd_getBudget", BudgetParams)
async def get_budget(daemon: Daemon, ctx: CallContext, params: BudgetParams) -> dict[str, Any]:
    stored_grant(daemon, ctx, params.grant_id)
    now = int(time.time())
    budgets = await asyncio.to_thread(daemon.store.budget, params.grant_id, now)
    return {"grantId": params.grant_id, "at": now, "allowances": [_budget(b) for b in budgets]}


@API.method("signerd_listSpends", ListSpendsParams)
async def list_spends(daemon: Daemon, ctx: CallContext, params: ListSpendsParams) -> dict[str, Any]:
    if params.grant_id is not None:
        stored_grant(daemon, ctx, params.grant_id)
    spends = await asyncio.to_thread(
        daemon.store.list_spends,
        grant_id=params.grant_id,
        peer_uid=owner_filter(daemon, ctx),
        limit=params.limit,
        before=params.before,
    )
    return {
        "spends": [s.to_json() for s in spends],
        "next": spends[-1].seq if len(spends) == params.limit else None,
    }


def _budget(budget: AllowanceBudget) -> dict[str, Any]:
    """One allowance's standing; amounts as decimal strings (uint256)."""
    return {
        "token": budget.token,
        "period": budget.period,
        "cap": str(budget.cap),
        "windowStart": budget.window.start if budget.window else None,
        "windowEnd": budget.window.end if budget.window else None,
        "spent": str(budget.spent),
        "reserved": str(budget.reserved),
        "remaining": str(budget.remaining),
    }
