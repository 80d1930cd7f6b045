"""``signerd_status`` and ``signerd_cancelRequest``: the daemon itself."""

from __future__ import annotations

import time
from typing import Any

from signerd import __version__
from signerd.api.registry import API, CallContext, Daemon
from signerd.errors import ValidationError
from signerd.rpc.params import CancelParams, NoParams


@API.method("signerd_status", NoParams)
async def status(daemon: Daemon, ctx: CallContext, params: NoParams) -> dict[str, Any]:
    worker = daemon.worker
    info = worker.info
    return {
        "version": __version__,
        "device": {
            "path": worker.path,
            "connected": worker.connected,
            "family": info.family if info else None,
            "model": info.model if info else None,
            "firmware": info.firmware if info else None,
            "showsTypedDataFields": info.shows_typed_data_fields if info else None,
            "lastError": worker.last_error,
        },
        "account": worker.known_account(daemon.config.derivation_path),
        "pending": worker.pending,
        "uptime": round(time.time() - daemon.started_at, 3),
        "heldKeys": daemon.keys.summary(),
    }


@API.method("signerd_cancelRequest", CancelParams)
async def cancel_request(daemon: Daemon, ctx: CallContext, params: CancelParams) -> dict[str, Any]:
    """Withdraw a pending request of this connection: it is answered CANCELLED."""
    if not ctx.cancel(params.id):
        raise ValidationError("id", f"no pending request {params.id!r} on this connection")
    return {"cancelled": params.id}
