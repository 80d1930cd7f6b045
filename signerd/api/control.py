"""``signerd_shutdown``: stop the daemon cleanly (``signerd stop``), for its admin uids only.

The reply goes out first; then the daemon stops as on SIGTERM: pending requests are answered
CANCELLED, connections close, and the socket is removed (unless a launcher passed it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from signerd.api.registry import API, CallContext, Daemon
from signerd.errors import MethodNotFound, UnauthorizedPeer
from signerd.rpc.params import NoParams


@API.method("signerd_shutdown", NoParams)
async def shutdown(daemon: Daemon, ctx: CallContext, params: NoParams) -> dict[str, Any]:
    # Stopping the daemon stops every uid's agents: only the person's uids (admin_uids,
    # default the daemon's own) may, not any uid the socket serves.
    if ctx.peer.uid not in daemon.config.admin_uids:
        raise UnauthorizedPeer(f"uid {ctx.peer.uid} may not stop signerd (not in admin_uids)")
    if daemon.shutdown is None:
        raise MethodNotFound("this daemon is embedded and cannot be stopped over its socket")
    # Soon, not now: this reply is written before the server starts closing connections.
    asyncio.get_running_loop().call_soon(daemon.shutdown)
    return {"stopping": True, "removesSocket": daemon.removes_socket}
