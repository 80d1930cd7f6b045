"""Top up a held session key's float by redeeming its grant's delegation.

The two layers meet here: the session key the daemon holds spends off chain within the
grant's budget (x402 payments from its own balance), and refills that balance from the
person's account through the delegation, within the on-chain ceiling. The daemon only ever
redeems a plain transfer of the grant's token *to the session key itself*, signed with the
held key (the delegate is who may redeem) and paid from its ether; the caveats decide on
chain whether the amount fits, and a refusal (beyond the period's amount, after the window,
disabled) is ChainError before anything is sent. No device approval: the person approved
the ceiling once, with the delegation.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from signerd.errors import (
    DelegationNotFound,
    DelegationUnsupported,
    GrantExpired,
    GrantRevoked,
    HeldKeyNotFound,
)
from signerd.flows.held_keys import HeldKeys
from signerd.grants.caps import grant_allowances
from signerd.grants.typed_data import keccak
from signerd.onchain import rpc
from signerd.onchain.abi import abi_encode
from signerd.onchain.caveats import NATIVE
from signerd.onchain.chains import ChainConfig
from signerd.onchain.delegation import Delegation, encode_permission_context
from signerd.onchain.execution import SINGLE_DEFAULT_MODE, erc20_transfer, native_transfer
from signerd.onchain.libraries import loaded
from signerd.store import Store, StoredGrant

_REDEEM: Final = keccak(b"redeemDelegations(bytes[],bytes32[],bytes[])")[:4]


def redeem_call(delegation: Delegation, execution: bytes) -> bytes:
    """DelegationManager.redeemDelegations calldata for one execution under one delegation."""
    context = encode_permission_context([delegation])
    args = abi_encode(
        ["bytes[]", "bytes32[]", "bytes[]"], [[context], [SINGLE_DEFAULT_MODE], [execution]]
    )
    return _REDEEM + args


async def top_up(
    chain: ChainConfig,
    keys: HeldKeys,
    store: Store,
    grant: StoredGrant,
    amount: int,
    peer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Move ``amount`` of the grant's token from the person's account to its held session
    key; the transaction."""
    await loaded("eth_abi.abi", "web3")
    status = grant.status(time.time())
    if status in ("revoked", "expired"):
        raise (GrantRevoked if status == "revoked" else GrantExpired)(
            f"grant {grant.id} is {status}"
        )
    record = store.get_delegation(grant.id)
    if record is None:
        raise DelegationNotFound(f"grant {grant.id} has no delegation to redeem")
    if record.disabled_at is not None:
        raise GrantRevoked(f"grant {grant.id}'s delegation was disabled on chain")
    tokens = {a.token for a in grant_allowances(grant.document)}
    if len(tokens) != 1:
        raise DelegationUnsupported(
            "a top-up redeems a one-token grant's delegation", {"field": "allowances"}
        )
    (token,) = tokens
    if not keys.holds(grant.session_key):
        raise HeldKeyNotFound(f"the daemon holds no session key for {grant.session_key}")
    key = await keys.signing_key(grant.session_key)
    session = grant.session_key
    if token == NATIVE:
        execution = native_transfer(session, amount)
    else:
        execution = erc20_transfer(token, session, amount)
    call = redeem_call(Delegation.from_json(record.delegation), execution)
    w3 = rpc.connect(chain)
    sent, _ = await asyncio.to_thread(rpc.send, w3, key, chain.delegation_manager, call)
    detail = {"grantId": grant.id, "token": token, "amount": str(amount), "tx": sent.tx}
    await asyncio.to_thread(
        store.append_audit_entries, [("delegation_redeemed", detail)], peer=peer
    )
    return {**detail, "to": session, "block": sent.block}
