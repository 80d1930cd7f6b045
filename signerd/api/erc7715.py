"""ERC-7715 over the socket: ``wallet_getSupportedExecutionPermissions``,
``wallet_requestExecutionPermissions``, ``wallet_getGrantedExecutionPermissions`` and
``wallet_revokeExecutionPermission``, each on the same grant flow, device approvals and store
as the ``signerd_*`` methods (signerd.flows.permissions)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signerd.api.grants import owner_filter, stored_grant
from signerd.api.registry import API, CallContext, Daemon
from signerd.errors import DelegationMismatch
from signerd.flows.audit import audited
from signerd.flows.disable import disable_on_chain
from signerd.flows.permissions import (
    GrantedPermission,
    grant_permission,
    granted,
    match_context,
    precheck_all,
    withdraw,
)
from signerd.onchain.delegation import root_delegation
from signerd.onchain.erc7715 import RULE_TYPES, SUPPORTED
from signerd.onchain.libraries import loaded
from signerd.rpc.erc7715_params import (
    NoPositionalParams,
    RequestPermissionsParams,
    RevokePermissionParams,
)


@API.method("wallet_getSupportedExecutionPermissions", NoPositionalParams)
async def supported(daemon: Daemon, ctx: CallContext, params: NoPositionalParams) -> Any:
    chains = [hex(c) for c, chain in sorted(daemon.config.chains.items()) if chain.rpc]
    return {kind: {"chainIds": chains, "ruleTypes": list(RULE_TYPES)} for kind in SUPPORTED}


@API.method("wallet_requestExecutionPermissions", RequestPermissionsParams, audited=True)
async def request_permissions(
    daemon: Daemon, ctx: CallContext, params: RequestPermissionsParams
) -> list[dict[str, Any]]:
    await precheck_all(
        daemon.config, daemon.store, params.requests, ctx.peer, daemon.grants.refusals
    )
    answers: list[GrantedPermission] = []
    try:
        for request in params.requests:
            answers.append(
                await grant_permission(
                    daemon.config,
                    daemon.grants,
                    daemon.delegations,
                    request,
                    peer=ctx.peer,
                    progress=ctx.threadsafe_progress(),
                    refusals=daemon.grants.refusals,
                )
            )
    except BaseException:
        # All or nothing: the caller never gets the contexts of the ones granted before.
        await withdraw(daemon.store, [a.grant_id for a in answers], ctx.peer)
        raise
    return [answer.response for answer in answers]


@API.method("wallet_getGrantedExecutionPermissions", NoPositionalParams)
async def granted_permissions(
    daemon: Daemon, ctx: CallContext, params: NoPositionalParams
) -> list[dict[str, Any]]:
    await loaded("eth_abi.abi")  # each answer's context is ABI-encoded
    owner = owner_filter(daemon, ctx)
    answers = []
    # Not only active ones: a permission that starts later is granted too. Not the grants
    # without a delegation, which are not permissions (and would crowd out the 500).
    for grant in daemon.store.list_grants(
        peer_uid=owner, live_on_chain=True, now=time.time(), limit=500
    ):
        record = daemon.store.get_delegation(grant.id)
        allowances = grant.document["typedData"]["message"]["allowances"]
        if record is not None and record.disabled_at is None and len(allowances) == 1:
            answers.append(granted(daemon.store, grant, record))
    return answers


@API.method("wallet_revokeExecutionPermission", RevokePermissionParams)
async def revoke_permission(
    daemon: Daemon, ctx: CallContext, params: RevokePermissionParams
) -> dict[str, Any]:
    await loaded("eth_abi.abi")  # the context is ABI-decoded, and its delegation hashed
    try:
        delegation = await asyncio.to_thread(root_delegation, params.context)
    except ValueError as exc:
        raise DelegationMismatch(str(exc), {"field": "permissionContext"}) from None
    grant = stored_grant(daemon, ctx, f"0x{delegation.salt:064x}")
    match_context(daemon.config, daemon.store, grant, delegation)
    async with audited(daemon.store, ctx.peer.to_json()) as trail:
        await disable_on_chain(
            daemon.config,
            daemon.worker,
            daemon.store,
            grant,
            reason="wallet_revokeExecutionPermission",
            peer=ctx.peer,
            trail=trail,
            progress=ctx.threadsafe_progress(),
        )
    return {}
