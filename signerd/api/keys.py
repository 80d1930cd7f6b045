"""``signerd_unlock``: the person unlocks the daemon's held session keys on the device."""

from __future__ import annotations

from typing import Any

from signerd.api.registry import API, CallContext, Daemon
from signerd.rpc.params import NoParams


@API.method("signerd_unlock", NoParams)
async def unlock(daemon: Daemon, ctx: CallContext, params: NoParams) -> dict[str, Any]:
    held = await daemon.keys.unlock(ctx.threadsafe_progress())
    return {"unlocked": True, "held": held}
