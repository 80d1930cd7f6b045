"""``signerd_*Grant*`` methods: request (through the grant flow), list, get, revoke, verify."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from signerd.api.registry import API, CallContext, Daemon
from signerd.errors import GrantExpired, GrantNotFound
from signerd.flows.audit import audited, log_event
from signerd.grants import verify_grant
from signerd.rpc.params import (
    GrantIdParams,
    ListGrantsParams,
    RequestGrantParams,
    RevokeGrantParams,
    VerifyGrantParams,
)
from signerd.store import StoredGrant


@API.method("signerd_requestGrant", RequestGrantParams, audited=True)
async def request_grant(
    daemon: Daemon, ctx: CallContext, params: RequestGrantParams
) -> dict[str, Any]:
    async with audited(daemon.store, ctx.peer.to_json(), daemon.grants.refusals) as trail:
        issued = await daemon.grants.request(
            params.request,
            generate=params.generate,
            peer=ctx.peer,
            trail=trail,
            progress=ctx.threadsafe_progress(),
            hold=params.hold,
        )
    reply: dict[str, Any] = {"grant": issued.document, "status": issued.stored.status(time.time())}
    if params.hold:
        reply["custody"] = "daemon"
    if issued.session_private_key is not None:
        # Handed over exactly once; it is never stored or logged.
        reply["sessionPrivateKey"] = issued.session_private_key
    return reply


@API.method("signerd_listGrants", ListGrantsParams)
async def list_grants(daemon: Daemon, ctx: CallContext, params: ListGrantsParams) -> dict[str, Any]:
    before = stored_grant(daemon, ctx, params.before) if params.before is not None else None
    now = time.time()
    grants = daemon.store.list_grants(
        peer_uid=owner_filter(daemon, ctx),
        session_key=params.session_key,
        status=params.status,
        now=now,
        limit=params.limit,
        before_created=before.created_at if before else None,
        before_id=before.id if before else None,
    )
    return {
        "grants": [grant_overview(g, now) for g in grants],
        "next": grants[-1].id if len(grants) == params.limit else None,
    }


@API.method("signerd_getGrant", GrantIdParams)
async def get_grant(daemon: Daemon, ctx: CallContext, params: GrantIdParams) -> dict[str, Any]:
    grant = stored_grant(daemon, ctx, params.id)
    return {**grant_overview(grant, time.time()), "grant": grant.document}


@API.method("signerd_revokeGrant", RevokeGrantParams)
async def revoke_grant(
    daemon: Daemon, ctx: CallContext, params: RevokeGrantParams
) -> dict[str, Any]:
    grant = stored_grant(daemon, ctx, params.id)
    if grant.revoked_at is None and grant.status(time.time()) == "expired":
        raise GrantExpired(f"grant {grant.id} has already expired")
    revoked = await asyncio.to_thread(
        daemon.store.revoke_grant, grant.id, reason=params.reason, peer_uid=ctx.peer.uid
    )
    log_event("revoked", ctx.peer.to_json(), {"grant": grant.id, "reason": params.reason})
    return grant_overview(revoked, time.time())


@API.method("signerd_verifyGrant", VerifyGrantParams)
async def verify(daemon: Daemon, ctx: CallContext, params: VerifyGrantParams) -> dict[str, Any]:
    # Recovering a signature over typed data costs milliseconds of CPU: in a worker thread, so
    # a flood of verifications never holds up the event loop (status, cancels, other peers).
    check = await asyncio.to_thread(
        verify_grant,
        params.grant,
        expected_signer=params.signer,
        expected_chain_id=params.chain_id,
    )
    result: dict[str, Any] = {
        "valid": check.valid,
        "reason": check.reason,
        "detail": check.detail,
        "signer": check.signer,
        "id": check.grant_id,
        "terms": check.terms,
    }
    if check.grant_id is not None:
        stored = daemon.store.get_grant(check.grant_id)
        if stored is not None and stored.revoked_at is not None and check.valid:
            # Any holder of the document learns that it is revoked (a payee must); the
            # person's reason only the grant's own uid and the admins.
            owner = owner_filter(daemon, ctx)
            told = owner is None or stored.peer_uid == owner
            detail = (stored.revoke_reason or "no reason given") if told else "by its person"
            result.update(valid=False, reason="revoked", detail=detail)
    return result


def owner_filter(daemon: Daemon, ctx: CallContext) -> int | None:
    """The uid whose grants the caller may see; None (every uid's) for an admin uid."""
    return None if ctx.peer.uid in daemon.config.admin_uids else ctx.peer.uid


def stored_grant(daemon: Daemon, ctx: CallContext, grant_id: str) -> StoredGrant:
    """The grant, if the caller may see it. Another uid's grant is answered as unknown, so a
    caller cannot even learn that it exists."""
    grant = daemon.store.get_grant(grant_id)
    owner = owner_filter(daemon, ctx)
    if grant is None or (owner is not None and grant.peer_uid != owner):
        raise GrantNotFound(f"no grant {grant_id}")
    return grant


def grant_overview(grant: StoredGrant, now: float) -> dict[str, Any]:
    """What listGrants and getGrant say of a stored grant."""
    return {
        "id": grant.id,
        "status": grant.status(now),
        "account": grant.account,
        "sessionKey": grant.session_key,
        "chainId": grant.chain_id,
        "agent": grant.agent,
        "summary": grant.document["typedData"]["message"]["summary"],
        "validAfter": grant.valid_after,
        "validUntil": grant.valid_until,
        "createdAt": grant.created_at,
        "revokedAt": grant.revoked_at,
        "revokeReason": grant.revoke_reason,
        "device": grant.device,
    }
