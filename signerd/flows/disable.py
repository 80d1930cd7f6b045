"""Revocation on chain: the grant is revoked off chain at once, then its delegation is
disabled on chain by a user operation the device signs.

A HybridDeleGator acts only through the EntryPoint (or itself), so the person's account calls
``DelegationManager.disableDelegation`` in an ERC-4337 user operation; the device signs its
EIP-712 ``PackedUserOperation`` (``callData`` shows as hex, so the progress message says what
it calls), the chain's relayer submits it and the account reimburses the gas. Everything that
can refuse (no delegation, no RPC URL or relayer, an account that was never deployed) is
checked before the device is asked; a user operation that then fails on chain is ChainError
and the delegation stays recorded as enabled, so the person can retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from signerd.config import Config
from signerd.devices import Signer
from signerd.errors import ChainError, DelegationNotFound, DeviceMismatch, GrantRevoked
from signerd.flows.audit import AuditTrail
from signerd.onchain import rpc
from signerd.onchain.delegation import Delegation
from signerd.onchain.libraries import loaded
from signerd.onchain.userop import disable_delegation_op, user_operation_typed_data
from signerd.rpc.peer import Peer
from signerd.store import Store, StoredDelegation, StoredGrant
from signerd.worker import DeviceWorker


def _recover(typed: dict[str, object], signature: bytes) -> str:
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    recovered: str = Account.recover_message(
        encode_typed_data(full_message=typed), signature=signature
    )
    return recovered


async def disable_on_chain(
    config: Config,
    worker: DeviceWorker,
    store: Store,
    grant: StoredGrant,
    *,
    reason: str,
    peer: Peer,
    trail: AuditTrail,
    progress: Callable[[str], None],
) -> StoredDelegation:
    """Revoke ``grant`` off chain (if not yet) and disable its delegation on chain."""
    await loaded("eth_abi.abi", "web3", "eth_account")
    record = store.get_delegation(grant.id)
    if record is None:
        raise DelegationNotFound(f"grant {grant.id} has no delegation to disable")
    if grant.revoked_at is None:
        with contextlib.suppress(GrantRevoked):  # revoked meanwhile: what matters is that it is
            await asyncio.to_thread(store.revoke_grant, grant.id, reason=reason, peer_uid=peer.uid)
    if record.disabled_at is not None:
        return record
    chain = config.chain(record.chain_id)
    key = rpc.relayer_key(chain)
    w3 = rpc.connect(chain)
    delegation = Delegation.from_json(record.delegation)

    def read_chain() -> tuple[int, int]:
        if not rpc.has_code(w3, delegation.delegator):
            raise ChainError(
                f"the account {delegation.delegator} is not deployed: its delegation cannot "
                "be redeemed, nor disabled (`signerd account deploy` first)"
            )
        return rpc.entry_point_nonce(w3, chain, delegation.delegator), rpc.gas_price(w3)

    nonce, gas_price = await asyncio.to_thread(read_chain)
    op = disable_delegation_op(delegation, nonce, gas_price)
    typed = user_operation_typed_data(op, chain.chain_id, chain.entry_point)
    path = config.derivation_path
    told = (
        f"Approve on the device a user operation of your account {delegation.delegator} on "
        f"chain {chain.chain_id}: it calls disableDelegation for the delegation {record.hash} "
        f"(grant {grant.id}); the device shows its callData as hex (selector 0x"
        f"{op.call_data[:4].hex()}), nonce {nonce}, gas fees up to {2 * gas_price} wei per "
        f"gas, paid from the account to the relayer {key.public_key.to_checksum_address()}."
    )

    def sign(signer: Signer) -> bytes:
        worker.confirm_device(signer, path)
        progress(told)
        signature = signer.sign_typed_data(typed, path, notify=progress)
        if _recover(typed, signature) != grant.account:
            raise DeviceMismatch(
                f"the device signed with another key than the account owner {grant.account}"
            )
        return signature

    signature = await worker.run(
        sign,
        timeout=config.approval_timeout,
        queue_timeout=config.queue_timeout,
        owner=(peer.uid, peer.pid),
        on_start=lambda: trail.step("shown_on_device", {"disable": record.hash}),
    )
    sent = await asyncio.to_thread(rpc.handle_op, w3, chain, op.signed(signature), key)
    progress(f"disabled on chain in {sent.tx} (block {sent.block})")
    disabled: StoredDelegation = await asyncio.shield(
        asyncio.to_thread(
            store.disable_delegation,
            grant.id,
            tx=sent.tx,
            peer=trail.peer,
            steps=trail.take_steps(),
        )
    )
    return disabled
