"""The delegation flow: a stored grant -> its ERC-7710 delegation -> device -> check -> store.

The second approval after the readable grant. Everything that can refuse runs before the
device is asked: the grant must be live and have no delegation yet, its chain must be
configured (ChainNotConfigured), its limits must compile to MetaMask's enforcers exactly
(DelegationUnsupported) and the compiled delegation must encode exactly the grant
(DelegationMismatch). The caveats' terms are bytes that every device shows as hex, so the
progress message says what each one means, in the order the device shows them; the
signature must recover to the grant's account, the owner of the delegating account.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from signerd.config import Config
from signerd.devices import Signer
from signerd.errors import DelegationExists, DeviceMismatch, GrantExpired, GrantRevoked
from signerd.flows.audit import AuditTrail
from signerd.grants.caps import grant_allowances
from signerd.grants.typed_data import recover_signer
from signerd.onchain.account import account_address
from signerd.onchain.caveats import describe
from signerd.onchain.chains import ChainConfig
from signerd.onchain.compile import compile_delegation, verify_delegation
from signerd.onchain.delegation import (
    Delegation,
    delegation_digest,
    delegation_hash,
    delegation_typed_data,
)
from signerd.onchain.libraries import loaded
from signerd.rpc.peer import Peer
from signerd.store import Store, StoredDelegation, StoredGrant
from signerd.worker import DeviceWorker


def person_account(chain: ChainConfig, owner: str) -> str:
    """The HybridDeleGator a grant's delegation comes from: the device account's own."""
    return account_address(chain.factory, chain.hybrid_implementation, owner, chain.account_salt)


def caveat_lines(grant: StoredGrant, delegation: Delegation, chain: ChainConfig) -> list[str]:
    """What each caveat's hex terms say, numbered in the order the device shows them."""
    names = {
        a.token.lower(): (a.symbol, a.decimals)
        for a in grant_allowances(grant.document)
        if a.symbol
    }
    lines = []
    for index, caveat in enumerate(delegation.caveats, 1):
        meaning = describe(chain.enforcers, caveat.enforcer, caveat.terms, names)
        head = "0x" + caveat.terms[:6].hex() + ("…" if len(caveat.terms) > 6 else "")
        lines.append(f"{index}. enforcer {caveat.enforcer}, terms {head}: {meaning}")
    return lines


def prompt(grant: StoredGrant, delegation: Delegation, chain: ChainConfig) -> str:
    """The progress message sent before the device shows the delegation."""
    own = person_account(chain, grant.account)
    if delegation.delegator.lower() == own.lower():
        whose = f"your account, owned by {grant.account}"
    else:  # the agent named the delegator: say so, the device shows only its address
        whose = f"an account the agent named, NOT your account {own}"
    return "\n".join(
        [
            f"Approve on the device the on-chain delegation of grant {grant.id}: "
            f"Delegation from {delegation.delegator} ({whose}) "
            f"to {delegation.delegate} on chain {chain.chain_id}, DelegationManager "
            f"{chain.delegation_manager}, salt {hex(delegation.salt)}.",
            "The device shows each caveat's terms as hex; they say:",
            *caveat_lines(grant, delegation, chain),
        ]
    )


class DelegationFlow:
    """Delegations for stored grants, on the daemon's device worker and store."""

    def __init__(self, config: Config, worker: DeviceWorker, store: Store) -> None:
        self.config = config
        self.worker = worker
        self.store = store
        self._in_flight: set[str] = set()  # grants whose delegation the device is showing

    def prepare(self, grant: StoredGrant, delegator: str | None = None) -> Delegation:
        """The unsigned delegation of a live grant without one; every refusal happens here."""
        now = time.time()
        status = grant.status(now)
        if status == "revoked":
            raise GrantRevoked(f"grant {grant.id} is revoked")
        if status == "expired":
            raise GrantExpired(f"grant {grant.id} has expired")
        if grant.id in self._in_flight or self.store.get_delegation(grant.id) is not None:
            raise DelegationExists(
                f"grant {grant.id} already has its delegation (or it is on the device)"
            )
        chain = self.config.chain(grant.chain_id)
        delegation = compile_delegation(
            grant.document, delegator or person_account(chain, grant.account), chain.enforcers
        )
        verify_delegation(grant.document, delegation, chain.enforcers)
        return delegation

    async def request(
        self,
        grant: StoredGrant,
        *,
        delegator: str | None,
        peer: Peer,
        trail: AuditTrail,
        progress: Callable[[str], None],
    ) -> StoredDelegation:
        """Compile, show, sign and store the grant's delegation."""
        # Awaited before prepare: its checks and the mark in flight must stay one step.
        await loaded("eth_abi.abi")
        delegation = self.prepare(grant, delegator)
        chain = self.config.chain(grant.chain_id)
        typed = delegation_typed_data(delegation, chain.chain_id, chain.delegation_manager)
        digest = delegation_digest(delegation, chain.chain_id, chain.delegation_manager)
        path = self.config.derivation_path
        lines = caveat_lines(grant, delegation, chain)

        def sign(signer: Signer) -> bytes:
            self.worker.confirm_device(signer, path)
            progress(prompt(grant, delegation, chain))
            signature = signer.sign_typed_data(typed, path, notify=progress)
            if recover_signer(digest, signature) != grant.account:
                raise DeviceMismatch(
                    f"the device signed with another key than the grant's account {grant.account}"
                )
            return signature

        self._in_flight.add(grant.id)
        try:
            signature = await self.worker.run(
                sign,
                timeout=self.config.approval_timeout,
                queue_timeout=self.config.queue_timeout,
                owner=(peer.uid, peer.pid),
                on_start=lambda: trail.step(
                    "shown_on_device", {"delegation": grant.id, "caveats": lines}
                ),
            )
        finally:
            self._in_flight.discard(grant.id)
        signed = delegation.signed(signature)
        record = StoredDelegation(
            grant_id=grant.id,
            chain_id=chain.chain_id,
            manager=chain.delegation_manager,
            delegator=signed.delegator,
            hash="0x" + delegation_hash(signed).hex(),
            delegation=signed.to_json(),
            created_at=time.time(),
        )
        await asyncio.shield(
            asyncio.to_thread(
                self.store.add_delegation, record, peer=trail.peer, steps=trail.take_steps()
            )
        )
        return record
