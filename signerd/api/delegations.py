"""``signerd_requestDelegation``, ``signerd_getDelegation``, ``signerd_disableDelegation``,
``signerd_topUp``: a grant's on-chain delegation, approved on the device as a second approval
after the grant (signerd.flows.delegation), its revocation on chain (signerd.flows.disable),
and a held session key's float refilled through it (signerd.flows.topup)."""

from __future__ import annotations

from typing import Any

from signerd.api.grants import stored_grant
from signerd.api.registry import API, CallContext, Daemon
from signerd.errors import DelegationNotFound
from signerd.flows.audit import audited
from signerd.flows.disable import disable_on_chain
from signerd.flows.topup import top_up
from signerd.rpc.onchain_params import (
    DelegationIdParams,
    DisableDelegationParams,
    RequestDelegationParams,
    TopUpParams,
)
from signerd.store import StoredDelegation


@API.method("signerd_requestDelegation", RequestDelegationParams, audited=True)
async def request_delegation(
    daemon: Daemon, ctx: CallContext, params: RequestDelegationParams
) -> dict[str, Any]:
    grant = stored_grant(daemon, ctx, params.grant_id)
    async with audited(daemon.store, ctx.peer.to_json(), daemon.grants.refusals) as trail:
        record = await daemon.delegations.request(
            grant,
            delegator=params.delegator,
            peer=ctx.peer,
            trail=trail,
            progress=ctx.threadsafe_progress(),
        )
    return record.to_json()


@API.method("signerd_disableDelegation", DisableDelegationParams)
async def disable_delegation(
    daemon: Daemon, ctx: CallContext, params: DisableDelegationParams
) -> dict[str, Any]:
    grant = stored_grant(daemon, ctx, params.grant_id)
    async with audited(daemon.store, ctx.peer.to_json()) as trail:
        record = await disable_on_chain(
            daemon.config,
            daemon.worker,
            daemon.store,
            grant,
            reason=params.reason,
            peer=ctx.peer,
            trail=trail,
            progress=ctx.threadsafe_progress(),
        )
    return record.to_json()


@API.method("signerd_topUp", TopUpParams)
async def top_up_float(daemon: Daemon, ctx: CallContext, params: TopUpParams) -> dict[str, Any]:
    grant = stored_grant(daemon, ctx, params.grant_id)
    chain = daemon.config.chain(grant.chain_id)
    return await top_up(
        chain, daemon.keys, daemon.store, grant, params.amount, peer=ctx.peer.to_json()
    )


@API.method("signerd_getDelegation", DelegationIdParams)
async def get_delegation(
    daemon: Daemon, ctx: CallContext, params: DelegationIdParams
) -> dict[str, Any]:
    return stored_delegation(daemon, ctx, params.grant_id).to_json()


def stored_delegation(daemon: Daemon, ctx: CallContext, grant_id: str) -> StoredDelegation:
    """The delegation of a grant the caller may see."""
    stored_grant(daemon, ctx, grant_id)
    record = daemon.store.get_delegation(grant_id)
    if record is None:
        raise DelegationNotFound(f"grant {grant_id} has no delegation")
    return record
