"""``signerd_unlock``: the person unlocks the daemon's held session keys on the device."""

from __future__ import annotations

import asyncio
from typing import Any

from signerd.api.registry import API, CallContext, Daemon
from signerd.rpc.params import NoParams


@API.method("signerd_unlock", NoParams)
async def unlock(daemon: Daemon, ctx: CallContext, params: NoParams) -> dict[str, Any]:
    loop = asyncio.get_running_loop()

    def progress(message: str) -> None:  # called from the device thread too
        loop.call_soon_threadsafe(ctx.progress, message)

    held = await daemon.keys.unlock(progress)
    return {"unlocked": True, "held": held}
