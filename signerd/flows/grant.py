"""The grant flow: request -> policy -> duplicate check -> device -> self-check -> store.

One flow for the daemon (``GrantFlow``) and for ``signerd sign-grant`` on a local device
(``sign_grant_locally``): the same nonce source, the same checks, the same self-check. Every
check that can refuse runs before the device is asked, so the person never approves
something the daemon then throws away. The device thread only talks to the device and checks
the signature (pure); the store and the flow's state change on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import coincurve

from signerd.config import Config, Policy
from signerd.devices import DEFAULT_DERIVATION_PATH, Notify, Signer, open_signer
from signerd.devices.discovery import resolve_device
from signerd.errors import DeviceMismatch, GrantExists, TooManyPending, ValidationError
from signerd.flows.audit import AuditTrail, RefusalLog
from signerd.flows.held_keys import HeldKeys
from signerd.grants import (
    GrantRequest,
    agent_description,
    build_grant_typed_data,
    grant_digest,
    grant_id,
    parse_grant_request,
    signed_grant,
)
from signerd.grants.tokens import BUILTIN_TOKENS, TokenTable
from signerd.grants.typed_data import address_of
from signerd.policy import check_policy
from signerd.rpc.peer import Peer
from signerd.store import Store, StoredGrant
from signerd.worker import DeviceWorker

JSONDict = dict[str, Any]


def new_nonce() -> int:
    """The grant nonce when the request names none: 64 random bits."""
    return secrets.randbits(64)


def prepare_grant(request: GrantRequest, *, account: str, agent: str) -> JSONDict:
    """The EIP-712 document the device will show, nonce drawn if the request has none."""
    nonce = request.nonce if request.nonce is not None else new_nonce()
    return build_grant_typed_data(request, account=account, agent=agent, nonce=nonce)


def sign_prepared(
    signer: Signer,
    typed_data: JSONDict,
    path: str,
    notify: Notify | None = None,
    digest: bytes | None = None,
) -> JSONDict:
    """Have the device sign ``typed_data``; the signed grant once its signature checks out.

    The self-check catches a device whose key is not the account the document names (another
    device plugged in, or a late answer to an earlier review): DeviceMismatch, never a grant.
    ``digest``: the typed data's, if the caller computed it already.
    """
    signature = signer.sign_typed_data(typed_data, path, notify=notify)
    try:
        return signed_grant(typed_data, signature, typed_data["message"]["account"], digest)
    except ValidationError as exc:
        raise DeviceMismatch(f"the device's signature does not verify: {exc.message}") from None


def _ignore(_line: str) -> None:
    """The default ``notify``: nobody to tell."""


def sign_grant_locally(
    device_path: str,
    request: Mapping[str, Any],
    derivation_path: str = DEFAULT_DERIVATION_PATH,
    allow_blind_signing: bool = False,
    notify: Notify = _ignore,
    policy: Policy | None = None,
    tokens: TokenTable = BUILTIN_TOKENS,
) -> JSONDict:
    """The grant flow without a daemon (``signerd sign-grant``): the same checks, no store.

    ``device_path`` may be ``auto``. ``notify`` gets the lines for the person: what the device
    will show, then the device's own prompts. Raises ValidationError or PolicyRefused before
    the device is touched, and the device errors of ``signerd.errors`` after.
    """
    checked = parse_grant_request(request, now=int(time.time()), tokens=tokens)
    check_policy(checked, policy or Policy())
    agent = agent_description(checked.label, os.getuid(), os.getpid(), "signerd")
    with open_signer(
        resolve_device(device_path), allow_blind_signing=allow_blind_signing
    ) as signer:
        account = signer.get_address(derivation_path)
        typed_data = prepare_grant(checked, account=account, agent=agent)
        notify(f"The device will show: {typed_data['message']['summary']}")
        return sign_prepared(signer, typed_data, derivation_path, notify)


@dataclass(frozen=True)
class IssuedGrant:
    document: JSONDict
    stored: StoredGrant
    session_private_key: str | None  # only for a key the daemon generated: handed over once


class GrantFlow:
    """Grants for the daemon's agents, on one device worker and one store."""

    def __init__(
        self, config: Config, worker: DeviceWorker, store: Store, keys: HeldKeys | None = None
    ) -> None:
        self.config = config
        self.worker = worker
        self.store = store
        self.keys = keys if keys is not None else HeldKeys(config, worker, store)
        self._pending_by_peer: Counter[tuple[int, int]] = Counter()
        self.refusals = RefusalLog(store)  # the audit of refused requests, coalesced
        self._in_flight: set[str] = set()  # ids of grants waiting for the device

    async def request(
        self,
        request: GrantRequest,
        *,
        generate: bool,
        peer: Peer,
        trail: AuditTrail,
        progress: Callable[[str], None],
        hold: bool = False,
    ) -> IssuedGrant:
        """``generate``: hand the new session key over once; ``hold``: keep it, sealed."""
        session_private_key = None
        held_secret: bytes | None = None
        if hold:
            held_secret, address = new_session_key()
            request = request.with_session_key(address)
        elif generate:
            request, session_private_key = _with_generated_key(request)
        elif request.session_key is not None and self.keys.holds(request.session_key):
            # Payments are signed with the held key of a grant's session key: a grant naming
            # another grant's held key would let its agent spend from that key's funds.
            raise ValidationError(
                "sessionKey",
                "is a session key the daemon holds for another grant; name the agent's own "
                'key, or ask with custody "daemon" for a new held one',
            )
        trail.step("request_received", _request_detail(request))
        request = request.named_by(self.config.tokens)
        check_policy(request, self.config.policy)
        # Per peer (uid and pid): one agent's full quota leaves another agent of its uid room.
        owner = (peer.uid, peer.pid)
        if self._pending_by_peer[owner] >= self.config.max_pending_per_peer:
            raise TooManyPending(
                f"uid {peer.uid} pid {peer.pid} already has {self.config.max_pending_per_peer} "
                "requests waiting for the device"
            )
        # Counted before the first await, so that concurrent requests cannot all pass the check.
        self._pending_by_peer[owner] += 1
        try:
            if held_secret is not None:
                # The key can be sealed only with the device's secret: the person unlocks
                # first (once per daemon run), so an approved grant always finds its key.
                await self.keys.unlock(progress)
            document = await self._approve(request, peer, trail, progress)
            if held_secret is not None:
                # Stored before the grant: a key without a grant is inert, never the reverse.
                await self.keys.hold(held_secret)
        finally:
            self._pending_by_peer[owner] -= 1
        info = self.worker.info
        stored = StoredGrant.from_document(
            document,
            device=f"{info.family} {info.model} {info.path}" if info else self.worker.path,
            peer_uid=peer.uid,
            created_at=time.time(),
        )
        await asyncio.shield(
            asyncio.to_thread(
                self.store.add_grant,
                stored,
                peer=trail.peer,
                audit_detail={"device": stored.device},
                steps=trail.take_steps(),
            )
        )
        summary = document["typedData"]["message"]["summary"]
        trail.succeeded("approved", {"grant": stored.id, "summary": summary})
        return IssuedGrant(document, stored, session_private_key)

    async def _approve(
        self,
        request: GrantRequest,
        peer: Peer,
        trail: AuditTrail,
        progress: Callable[[str], None],
    ) -> JSONDict:
        path = self.config.derivation_path
        account = await self.worker.account(path, queue_timeout=self.config.queue_timeout)
        agent = agent_description(request.label, peer.uid, peer.pid, peer.exe)
        typed_data = prepare_grant(request, account=account, agent=agent)
        digest = grant_digest(typed_data)
        gid = grant_id(digest)
        # Only a request that names its nonce can repeat a stored grant: a drawn one is 64
        # random bits (and the store's unique id would still refuse a collision).
        stored = request.nonce is not None and self.store.get_grant(gid) is not None
        if gid in self._in_flight or stored:
            raise GrantExists(
                f"grant {gid} is already stored or waiting for the device: send another nonce "
                "or validity window for a new grant"
            )
        summary = typed_data["message"]["summary"]
        self._in_flight.add(gid)
        try:

            def sign(signer: Signer) -> JSONDict:
                self.worker.confirm_device(signer, path)
                return sign_prepared(signer, typed_data, path, progress, digest)

            return await self.worker.run(
                sign,
                timeout=self.config.approval_timeout,
                queue_timeout=self.config.queue_timeout,
                owner=(peer.uid, peer.pid),
                on_start=lambda: trail.step(
                    "shown_on_device", {"summary": summary, "device": self.worker.path}
                ),
            )
        except DeviceMismatch:
            self.worker.forget_account()  # the device's key may have changed: ask it again
            raise
        finally:
            self._in_flight.discard(gid)


def _with_generated_key(request: GrantRequest) -> tuple[GrantRequest, str]:
    """``request`` for a new session key, and that key's hex: its only copy left.

    What eth-account's Account.create() does, without importing eth-account (its import alone
    would double the daemon's start-up time). The raw bytes and the key object go out of scope
    here; Python cannot wipe the hex string, which lives until the reply is sent.
    """
    secret, address = new_session_key()
    return request.with_session_key(address), "0x" + secret.hex()


def new_session_key() -> tuple[bytes, str]:
    """A fresh secp256k1 key: its 32 secret bytes and its checksummed address.

    libsecp256k1 through coincurve, which is imported already: eth-keys' first import would
    hold up the event loop ~150 ms (a held key becomes an eth-keys key once the held keys are
    unlocked, and the unlock imports eth-keys in a thread).
    """
    secret = secrets.token_bytes(32)
    return secret, address_of(coincurve.PrivateKey(secret).public_key)


def _request_detail(request: GrantRequest) -> JSONDict:
    return {
        "label": request.label,
        "sessionKey": request.session_key,
        "chainId": request.chain_id,
        "allowances": [
            {"token": a.token, "amount": str(a.amount), "period": a.period}
            for a in request.allowances
        ],
        "targets": list(request.targets),
        "validAfter": request.valid_after,
        "validUntil": request.valid_until,
    }
