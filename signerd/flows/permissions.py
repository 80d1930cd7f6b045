"""ERC-7715 permissions on the daemon's own flows: request -> grant -> delegation -> response.

A permission request is turned into a grant request (signerd.onchain.erc7715) and goes
through the same grant flow, device approval and store as ``signerd_requestGrant``; then its
delegation is approved on the device as the second approval (signerd.flows.delegation). All
that can refuse runs before the first approval: the request's shape, the chain's
``[[chains]]`` entry with an RPC URL (the response's ``dependencies`` say whether the
account exists yet), the grant request's own checks and policy, and whether the limits
compile to the enforcers. A grant whose delegation the person then rejects is revoked, so
no half-granted permission remains.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signerd.config import Config
from signerd.errors import DelegationMismatch, GrantRevoked, SignerdError, ValidationError
from signerd.flows.audit import RefusalLog, audited
from signerd.flows.delegation import DelegationFlow, person_account
from signerd.flows.grant import GrantFlow
from signerd.grants import GrantRequest, parse_grant_request
from signerd.onchain import rpc
from signerd.onchain.account import deploy_call
from signerd.onchain.chains import ChainConfig
from signerd.onchain.compile import compile_delegation, verify_delegation
from signerd.onchain.delegation import (
    Delegation,
    delegation_hash,
    encode_permission_context,
)
from signerd.onchain.erc7715 import PermissionRequest, permission_of_grant
from signerd.onchain.libraries import loaded
from signerd.policy import check_policy
from signerd.rpc.peer import Peer
from signerd.store import Store, StoredDelegation, StoredGrant

JSONDict = dict[str, Any]
_PLACEHOLDER_ID = "0x" + "00" * 32


def precheck(config: Config, request: PermissionRequest) -> tuple[ChainConfig, GrantRequest]:
    """Every refusal that needs no device: chain and RPC, the grant request, policy, and the
    limits' delegation; the chain's entry and the checked grant request."""
    chain = config.chain(request.chain_id)
    chain.rpc_url()
    rpc.require_web3(chain)
    try:
        grant = parse_grant_request(
            request.grant_params(), now=int(time.time()), tokens=config.tokens
        )
    except ValidationError as exc:  # named as the caller sent it, not as signerd's grant
        raise ValidationError(request.field_of(exc.field), exc.message) from None
    check_policy(grant.named_by(config.tokens), config.policy)
    message = {
        "sessionKey": request.session,
        "validAfter": grant.valid_after,
        "validUntil": grant.valid_until,
        "allowances": [a.to_json() for a in grant.allowances],
    }
    document = {"id": _PLACEHOLDER_ID, "typedData": {"message": message}}
    delegator = request.delegator or "0x" + "11" * 20
    verify_delegation(
        document, compile_delegation(document, delegator, chain.enforcers), chain.enforcers
    )
    return chain, grant


async def precheck_all(
    config: Config,
    store: Store,
    requests: Sequence[PermissionRequest],
    peer: Peer,
    refusals: RefusalLog,
) -> None:
    """``precheck`` of every request of one call, before the first approval: a refusal of
    the second must not come after the person approved the first (audited as any refusal)."""
    try:
        for request in requests:
            precheck(config, request)
    except SignerdError:
        async with audited(store, peer.to_json(), refusals):
            raise


async def withdraw(store: Store, grant_ids: Sequence[str], peer: Peer) -> None:
    """Revoke grants whose permissions were approved but whose caller got an error instead
    of their contexts: no permission is left live that its caller does not know of."""
    for grant_id in grant_ids:
        with contextlib.suppress(GrantRevoked):
            await asyncio.shield(
                asyncio.to_thread(
                    store.revoke_grant,
                    grant_id,
                    reason="its ERC-7715 request was not granted as a whole",
                    peer_uid=peer.uid,
                )
            )


async def dependencies(chain: ChainConfig, owner: str, delegator: str) -> list[JSONDict]:
    """What deploys the delegating account: nothing once it has code; SimpleFactory's
    ``deploy`` call for the owner's own account; nothing we can say for another account."""
    await loaded("eth_abi.abi", "web3")
    w3 = rpc.connect(chain)
    if await asyncio.to_thread(rpc.has_code, w3, delegator):
        return []
    if delegator != person_account(chain, owner):
        return []
    call = deploy_call(chain.hybrid_implementation, owner, chain.account_salt)
    return [{"factory": chain.factory, "factoryData": "0x" + call.hex()}]


def response(request: JSONDict, record: StoredDelegation, deps: list[JSONDict]) -> JSONDict:
    """A PermissionResponse: the request as granted, with context, dependencies, manager."""
    delegation = Delegation.from_json(record.delegation)
    return {
        **request,
        "chainId": hex(record.chain_id),
        "from": record.delegator,
        "context": "0x" + encode_permission_context([delegation]).hex(),
        "dependencies": deps,
        "delegationManager": record.manager,
    }


@dataclass(frozen=True)
class GrantedPermission:
    grant_id: str
    response: JSONDict


async def grant_permission(
    config: Config,
    grants: GrantFlow,
    delegations: DelegationFlow,
    request: PermissionRequest,
    *,
    peer: Peer,
    progress: Callable[[str], None],
    refusals: RefusalLog,
) -> GrantedPermission:
    """Approve ``request`` on the device (grant, then delegation); its PermissionResponse."""
    store = grants.store
    async with audited(store, peer.to_json(), refusals) as trail:
        # Again, though precheck_all checked it: the person may have taken minutes over
        # the call's earlier requests, and the validity window is checked against now.
        chain, grant_request = precheck(config, request)
        issued = await grants.request(
            grant_request, generate=False, peer=peer, trail=trail, progress=progress
        )
    try:
        async with audited(store, peer.to_json()) as trail:
            record = await delegations.request(
                issued.stored,
                delegator=request.delegator,
                peer=peer,
                trail=trail,
                progress=progress,
            )
        # In the same try: a node that cannot answer must not leave a permission granted
        # whose caller got an error.
        deps = await dependencies(chain, issued.stored.account, record.delegator)
    except BaseException:
        await withdraw(store, [issued.stored.id], peer)
        raise
    granted_as = as_granted(request.raw, issued.stored.valid_after)
    return GrantedPermission(issued.stored.id, response(granted_as, record, deps))


def as_granted(raw: Mapping[str, Any], valid_after: int) -> JSONDict:
    """The request as granted: with the start time used when it named none (now)."""
    request = copy.deepcopy(dict(raw))
    data = request.get("permission", {}).get("data")
    if isinstance(data, dict) and data.get("startTime") is None:
        data["startTime"] = valid_after
    return request


def granted(store: Store, grant: StoredGrant, record: StoredDelegation) -> JSONDict:
    """The PermissionResponse of a stored grant and delegation (``dependencies`` empty: the
    live answer needs the node; requestExecutionPermissions gave it)."""
    message = grant.document["typedData"]["message"]
    kind, data, rules = permission_of_grant(message)
    request = {
        "to": grant.session_key,
        "permission": {"type": kind, "isAdjustmentAllowed": False, "data": data},
        "rules": rules,
    }
    return response(request, record, [])


def match_context(
    config: Config, store: Store, grant: StoredGrant, delegation: Delegation
) -> StoredDelegation:
    """The stored delegation ``delegation`` (decoded from a context) is; DelegationMismatch
    when its caveats do not encode its grant or it is not the one stored for it."""
    record = store.get_delegation(grant.id)
    chain = config.chain(grant.chain_id)
    verify_delegation(grant.document, delegation, chain.enforcers)
    if record is None or record.hash != "0x" + delegation_hash(delegation).hex():
        raise DelegationMismatch(
            f"the context's delegation is not the one grant {grant.id} was delegated with",
            {"field": "permissionContext"},
        )
    return record
