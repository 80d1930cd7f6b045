"""The payment flow: an EIP-3009 authorization signed with a grant's session key, within it.

Order, so that nothing is ever signed beyond the grant: find the grant -> its status (revoked
or expired grants stop spending at once) -> the authorization's checks (payer, chain, token,
payee, per-payment maximum, validity) -> the session key -> one ledger write (``pay_write``)
that reserves the spend (the window budget's check in the same transaction), signs, and
commits it with the signature. The reply waits for that write's durable COMMIT, so every
signature an agent holds has a committed spend on disk; a crash before it loses the signature
with the process. Every refusal comes before the reservation, so before any signature exists.

Idempotent by the EIP-3009 nonce, the ledger's key: the same nonce with the same content
returns the same signature (the stored one once committed; a reservation left by a crash is
signed again, and RFC 6979 makes that the same signature); the same nonce with other content
is a SpendConflict.

Audit: a payment's entry is the ledger's own ``spend_committed``, written with the spend and
recording all of it; a refused one ends in one ``spend_refused`` outcome naming the grant.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import coincurve

from signerd.errors import GrantNotFound, PaymentRefused
from signerd.flows.audit import AuditTrail
from signerd.flows.paid_lines import PaidLines
from signerd.payments.eip3009 import Authorization, check_against_grant, parse_authorization
from signerd.payments.session_keys import SessionKeys
from signerd.store import SpendRecord, Store, StoredGrant
from signerd.store.windows import check_usable

if TYPE_CHECKING:  # eth-keys is imported where a key is made
    from eth_keys.datatypes import PrivateKey


@dataclass(frozen=True)
class Payment:
    """A signed payment: the 65-byte signature (r, s, v with v 27/28) and its ledger record."""

    signature: bytes
    spend: SpendRecord


def sign_digest(key: coincurve.PrivateKey, digest: bytes) -> bytes:
    """An Ethereum signature of ``digest``: r || s || v, v being 27 or 28 (what EIP-3009
    tokens and x402 expect). Deterministic (RFC 6979), low-s (libsecp256k1 always is)."""
    signature = key.sign_recoverable(digest, hasher=None)
    return signature[:64] + bytes([signature[64] + 27])


class _Signers:
    """libsecp256k1 keys of the held session keys, made once per key: building one from the
    secret costs more than the signature (it derives the public key)."""

    def __init__(self) -> None:
        self._by_address: dict[str, tuple[PrivateKey, coincurve.PrivateKey]] = {}

    def of(self, key: PrivateKey, address: str) -> coincurve.PrivateKey:
        """The signing key of ``key``, which must be the key of ``address``."""
        known = self._by_address.get(address)
        if known is not None and known[0] is key:
            return known[1]
        if key.public_key.to_checksum_address() != address:
            raise PaymentRefused(
                f"the key held for {address} is another one", {"reason": "key_not_held"}
            )
        signer = coincurve.PrivateKey(key.to_bytes())
        self._by_address[address] = (key, signer)
        return signer


class PaymentFlow:
    """Payments from the daemon's grants, on one store and the daemon's held keys."""

    def __init__(
        self, store: Store, keys: SessionKeys, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.keys = keys
        self.clock = clock
        self._signers = _Signers()
        self.paid_lines = PaidLines()  # the "paid" log lines, coalesced per agent and grant
        # Grant documents never change once stored; only their status does, and that is
        # read afresh inside the reservation's transaction.
        self._grants: dict[str, StoredGrant] = {}

    async def sign(
        self,
        grant_id: str,
        typed_data: Mapping[str, Any],
        trail: AuditTrail,
        *,
        owner: int | None = None,
    ) -> Payment:
        """Sign ``typed_data`` with the session key of grant ``grant_id`` if it is a payment
        the grant allows. Raises GrantNotFound, GrantRevoked, GrantExpired, PaymentRefused,
        BudgetExceeded or SpendConflict, each before anything is signed. ``owner``: the uid
        whose grants the caller may pay from (None: any); another uid's grant is not found.
        """
        # One log line per payment, its outcome: payments come by the thousand a second.
        trail.step(
            "request_received",
            {"grantId": grant_id, "method": "signerd_signPayment"},
            logged=False,
        )
        auth = parse_authorization(typed_data)
        now = int(self.clock())
        grant = await self._grant(grant_id)
        if owner is not None and grant.peer_uid != owner:
            raise GrantNotFound(f"no grant {grant_id}")  # as for an id that does not exist
        check_usable(grant, now)  # again in the reservation's transaction, past any race
        check_against_grant(auth, grant, now)
        key = self._signers.of(await self.keys.signing_key(grant.session_key), auth.sender)
        # Shielded: once submitted, the write runs and commits even if the client goes away
        # (a task of its own would cost more than the rest of the coroutine's steps).
        spend, signature = await asyncio.shield(self._submit(grant, auth, key, now, trail))
        # Paid: the ledger's spend_committed entry is this request's audit (it names the
        # grant and the spend), so the trail ends without an entry.
        trail.take_steps()
        trail.succeeded(
            "paid",
            {
                "grant": grant.id,
                "seq": spend.seq,
                "token": spend.token,
                "amount": str(spend.amount),
                "payee": spend.payee,
            },
        )
        return Payment(signature, spend)

    async def _grant(self, grant_id: str) -> StoredGrant:
        """The stored grant (its status as first read: the caller checks it again later)."""
        grant = self._grants.get(grant_id)
        if grant is None:
            grant = await asyncio.to_thread(self.store.get_grant, grant_id)
            if grant is None:
                raise GrantNotFound(f"no grant {grant_id}")
            self._grants[grant_id] = grant
        return grant

    def _submit(
        self,
        grant: StoredGrant,
        auth: Authorization,
        key: coincurve.PrivateKey,
        now: int,
        trail: AuditTrail,
    ) -> asyncio.Future[tuple[SpendRecord, bytes]]:
        """The payment's one ledger write, submitted: its future resolves once committed."""
        # One write: checked, signed and committed in one savepoint, so the signature leaves
        # only with its committed spend on disk. Group-committed: many payments share one
        # transaction and one fsync. secp256k1 signing takes tens of microseconds (coincurve),
        # less than a hop to a thread, so it runs where the write runs.
        store = self.store
        write = store.pay_write(
            grant.id,
            token=auth.token,
            amount=auth.value,
            payee=auth.payee,
            key=auth.nonce,
            content_hash=auth.content_hash,
            now=now,
            sign=lambda: sign_digest(key, auth.digest),
            peer=trail.peer,
        )
        return store.submit_spend_write(write)
