"""The daemon's methods: validated request → policy → device worker → store → reply.

Each ``signerd_*`` method is an async function of (params, call context). The socket
server owns framing and peers; this module owns what the methods mean, and it audits every
step of a grant's life in the store's hash-chained log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eth_keys.datatypes import PrivateKey

from signerd import __version__
from signerd.config import Config
from signerd.devices import Signer
from signerd.errors import (
    ApprovalTimeout,
    DeviceError,
    GrantExpired,
    GrantNotFound,
    SignerdError,
    TooManyPending,
    UserRejected,
    ValidationError,
)
from signerd.grants import (
    GrantRequest,
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
    verify_grant,
)
from signerd.policy import check_policy
from signerd.rpc.peer import Peer
from signerd.store import Store, StoredGrant
from signerd.worker import DeviceWorker

LOG = logging.getLogger(__name__)

PROGRESS_METHOD = "signerd_progress"


@dataclass
class CallContext:
    """What a method knows about its caller."""

    peer: Peer
    request_id: int | str | None
    notify: Callable[[str, dict[str, Any]], None]  # push a JSON-RPC notification to the caller


Method = Callable[[dict[str, Any], CallContext], Awaitable[Any]]


class SignerdService:
    """The methods of the socket API, on one device worker and one store."""

    def __init__(self, config: Config, worker: DeviceWorker, store: Store) -> None:
        self.config = config
        self.worker = worker
        self.store = store
        self.started_at = time.time()
        self._pending_by_uid: Counter[int] = Counter()
        self._account: tuple[Signer, str] | None = None
        self.methods: dict[str, Method] = {
            "signerd_status": self.status,
            "signerd_requestGrant": self.request_grant,
            "signerd_listGrants": self.list_grants,
            "signerd_getGrant": self.get_grant,
            "signerd_revokeGrant": self.revoke_grant,
            "signerd_verifyGrant": self.verify_grant,
        }

    # -- status -----------------------------------------------------------------------

    async def status(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _no_params(params)
        info = self.worker.info
        account = self._account[1] if self._account is not None else None
        return {
            "version": __version__,
            "device": {
                "path": self.worker.path,
                "connected": self.worker.connected,
                "family": info.family if info else None,
                "model": info.model if info else None,
                "firmware": info.firmware if info else None,
                "showsTypedDataFields": info.shows_typed_data_fields if info else None,
                "lastError": self.worker.last_error,
            },
            "account": account,
            "pending": self.worker.pending,
            "uptime": round(time.time() - self.started_at, 3),
        }

    # -- grants -----------------------------------------------------------------------

    async def request_grant(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        now = int(time.time())
        params = dict(params)
        generate = params.pop("generate", False)
        if not isinstance(generate, bool):
            raise ValidationError("generate", "must be true or false")
        session_private_key: str | None = None
        if generate:
            if "sessionKey" in params:
                raise ValidationError("sessionKey", "give either sessionKey or generate, not both")
            # What eth-account's Account.create() does, without importing eth-account: its
            # import (py_ecc through eth_keyfile) alone would double the daemon's start-up time.
            session_key = PrivateKey(secrets.token_bytes(32))
            params["sessionKey"] = session_key.public_key.to_checksum_address()
            session_private_key = session_key.to_hex()
        elif "sessionKey" not in params:
            raise ValidationError("sessionKey", "required (or set generate: true)")
        request = parse_grant_request(params, now=now)
        peer = ctx.peer.to_json()
        try:
            check_policy(request, self.config.policy)
        except SignerdError as exc:
            await self._audit("policy_refused", peer=peer, detail={"reason": str(exc)})
            raise
        if self._pending_by_uid[ctx.peer.uid] >= self.config.max_pending_per_peer:
            raise TooManyPending(
                f"uid {ctx.peer.uid} already has {self.config.max_pending_per_peer} "
                "requests waiting for the device"
            )
        # Counted before the first await, so that concurrent requests cannot all pass the check.
        self._pending_by_uid[ctx.peer.uid] += 1
        try:
            # Not synced on its own: the flow's last entry (approved, rejected, ...) syncs it.
            await self._audit(
                "request_received", peer=peer, detail=_request_detail(request), durable=False
            )
            document = await self._sign_on_device(request, ctx, peer)
        finally:
            self._pending_by_uid[ctx.peer.uid] -= 1
        info = self.worker.info
        stored = StoredGrant.from_document(
            document,
            device=f"{info.family} {info.model} {info.path}" if info else self.worker.path,
            peer_uid=ctx.peer.uid,
            created_at=time.time(),
        )
        await asyncio.to_thread(
            self.store.add_grant, stored, peer=peer, audit_detail={"device": stored.device}
        )
        reply: dict[str, Any] = {"grant": document, "status": stored.status(time.time())}
        if session_private_key is not None:
            # Handed over exactly once; it is never stored or logged.
            reply["sessionPrivateKey"] = session_private_key
        return reply

    async def _sign_on_device(
        self, request: GrantRequest, ctx: CallContext, peer: dict[str, Any]
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        agent = agent_description(request.label, ctx.peer.uid, ctx.peer.pid, ctx.peer.exe)
        nonce = request.nonce if request.nonce is not None else secrets.randbits(64)
        path = self.config.derivation_path

        def progress(message: str) -> None:
            loop.call_soon_threadsafe(
                ctx.notify, PROGRESS_METHOD, {"id": ctx.request_id, "message": message}
            )

        def sign(signer: Signer) -> tuple[dict[str, Any], bytes]:
            account = self._account_of(signer)
            typed_data = build_grant_typed_data(request, account=account, agent=agent, nonce=nonce)
            self.store.append_audit(
                "shown_on_device",
                peer=peer,
                detail={"summary": typed_data["message"]["summary"], "device": self.worker.path},
                durable=False,
            )
            return typed_data, signer.sign_typed_data(typed_data, path, notify=progress)

        try:
            typed_data, signature = await self.worker.run(
                sign,
                timeout=self.config.approval_timeout,
                queue_timeout=self.config.queue_timeout,
            )
        except UserRejected:
            await self._audit("rejected", peer=peer)
            raise
        except ApprovalTimeout as exc:
            await self._audit("timed_out", peer=peer, detail={"reason": str(exc)})
            raise
        except asyncio.CancelledError:
            await self._audit("cancelled", peer=peer, detail={"reason": "client disconnected"})
            raise
        except DeviceError as exc:
            await self._audit("device_error", peer=peer, detail={"error": str(exc)})
            raise
        account = typed_data["message"]["account"]
        try:
            document = signed_grant(typed_data, signature, account)
        except ValidationError as exc:
            self._account = None  # the device's key changed under us: ask it again next time
            await self._audit("device_error", peer=peer, detail={"error": exc.message})
            raise DeviceError(f"the device's signature does not verify: {exc.message}") from None
        return document

    def _account_of(self, signer: Signer) -> str:
        """The master address, asked once per connection (runs in the worker thread)."""
        cached = self._account
        if cached is not None and cached[0] is signer:
            return cached[1]
        address = signer.get_address(self.config.derivation_path)
        self._account = (signer, address)
        return address

    async def list_grants(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _only(params, {"sessionKey", "status", "limit", "before"})
        limit = params.get("limit", 50)
        if not _is_int(limit) or not 1 <= limit <= 500:
            raise ValidationError("limit", "must be an integer from 1 to 500")
        status = params.get("status")
        if status is not None and status not in ("active", "revoked", "expired", "pending"):
            raise ValidationError("status", "must be active, revoked, expired or pending")
        before = params.get("before")
        before_grant: StoredGrant | None = None
        if before is not None:
            before_grant = self._stored({"id": before})
        session_key = params.get("sessionKey")
        if session_key is not None and not isinstance(session_key, str):
            raise ValidationError("sessionKey", "must be an address")
        now = time.time()
        grants = self.store.list_grants(
            session_key=session_key,
            status=status,
            now=now,
            limit=limit,
            before_created=before_grant.created_at if before_grant else None,
            before_id=before_grant.id if before_grant else None,
        )
        return {
            "grants": [_grant_summary(g, now) for g in grants],
            "next": grants[-1].id if len(grants) == limit else None,
        }

    async def get_grant(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        grant = self._stored(params)
        now = time.time()
        return {**_grant_summary(grant, now), "grant": grant.document}

    async def revoke_grant(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        grant = self._stored(params, allowed={"id", "reason"})
        reason = params.get("reason", "revoked by request")
        if not isinstance(reason, str) or len(reason) > 200:
            raise ValidationError("reason", "must be a string of at most 200 characters")
        if grant.revoked_at is None and grant.status(time.time()) == "expired":
            raise GrantExpired(f"grant {grant.id} has already expired")
        revoked = await asyncio.to_thread(
            self.store.revoke_grant, grant.id, reason=reason, peer_uid=ctx.peer.uid
        )
        return _grant_summary(revoked, time.time())

    async def verify_grant(self, params: dict[str, Any], ctx: CallContext) -> dict[str, Any]:
        _only(params, {"grant", "signer"})
        document = params.get("grant")
        if not isinstance(document, dict):
            raise ValidationError("grant", "must be a signed grant object")
        expected = params.get("signer")
        if expected is not None and not isinstance(expected, str):
            raise ValidationError("signer", "must be an address")
        check = verify_grant(document, expected_signer=expected)
        result: dict[str, Any] = {
            "valid": check.valid,
            "reason": check.reason,
            "detail": check.detail,
            "signer": check.signer,
            "id": check.grant_id,
        }
        if check.grant_id is not None:
            stored = self.store.get_grant(check.grant_id)
            if stored is not None and stored.revoked_at is not None and check.valid:
                result.update(valid=False, reason="revoked", detail=stored.revoke_reason)
        return result

    # -- helpers ----------------------------------------------------------------------

    def _stored(self, params: dict[str, Any], allowed: set[str] | None = None) -> StoredGrant:
        _only(params, allowed or {"id"})
        grant_id = params.get("id")
        if not isinstance(grant_id, str) or len(grant_id) != 66 or not grant_id.startswith("0x"):
            raise ValidationError("id", "must be a grant id (0x + 64 hex digits)")
        grant = self.store.get_grant(grant_id.lower())
        if grant is None:
            raise GrantNotFound(f"no grant {grant_id}")
        return grant

    async def _audit(
        self,
        event: str,
        *,
        peer: dict[str, Any],
        detail: dict[str, Any] | None = None,
        durable: bool = True,
    ) -> None:
        await asyncio.to_thread(
            self.store.append_audit, event, peer=peer, detail=detail, durable=durable
        )


def _request_detail(request: GrantRequest) -> dict[str, Any]:
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


def _grant_summary(grant: StoredGrant, now: float) -> dict[str, Any]:
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


def _no_params(params: dict[str, Any]) -> None:
    _only(params, set())


def _only(params: dict[str, Any], allowed: set[str]) -> None:
    for key in params:
        if key not in allowed:
            raise ValidationError(key, "unknown parameter")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
