"""The method registry: each method family registers its methods with their typed params.

The server looks a method up by name, parses its params into the method's dataclass
(INVALID_PARAMS on refusal, before the method runs) and calls it with the daemon's parts and
the caller's context. Adding a capability is one new module under ``api/``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from signerd.config import Config
from signerd.errors import MethodNotFound, SignerdError
from signerd.flows.audit import audited
from signerd.flows.delegation import DelegationFlow
from signerd.flows.grant import GrantFlow
from signerd.flows.held_keys import HeldKeys
from signerd.flows.payment import PaymentFlow
from signerd.rpc.params import Params
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker

P = TypeVar("P", bound=Params)

PROGRESS_METHOD = "signerd_progress"


@dataclass(frozen=True)
class CallContext:
    """What a method knows about its caller."""

    peer: Peer
    request_id: int | str | None
    notify: Callable[[str, dict[str, Any]], None]  # push a JSON-RPC notification to the caller
    # Withdraw another pending request of the same connection by its id; False if none.
    cancel: Callable[[int | str], bool]

    def progress(self, message: str) -> None:
        """Tell the caller how its request is going (e.g. what to do on the device)."""
        self.notify(PROGRESS_METHOD, {"id": self.request_id, "message": message})

    def threadsafe_progress(self) -> Callable[[str], None]:
        """``progress`` for flows that report from the device's thread (call on the loop)."""
        loop = asyncio.get_running_loop()

        def progress(message: str) -> None:
            loop.call_soon_threadsafe(self.progress, message)

        return progress


@dataclass
class Daemon:
    """The parts every method works with."""

    config: Config
    worker: DeviceWorker
    store: Store
    grants: GrantFlow
    started_at: float
    keys: HeldKeys  # the session keys the daemon holds (the grant flow's own)
    payments: PaymentFlow
    delegations: DelegationFlow
    # Stops `signerd serve` (signerd_shutdown); None where the daemon is embedded (tests).
    shutdown: Callable[[], None] | None = None
    removes_socket: bool = True  # False when serving a socket a launcher passed (systemd)


@dataclass(frozen=True)
class Method(Generic[P]):
    params: type[P]
    handler: Callable[[Daemon, CallContext, P], Awaitable[Any]]
    # A request its handler audits: one refused for its params is audited too (coalesced
    # per peer and kind, as every refusal), so every such request leaves one outcome.
    audited: bool = False

    async def __call__(self, daemon: Daemon, ctx: CallContext, raw: Mapping[str, Any]) -> Any:
        try:
            params = self.params.parse(raw, now=int(time.time()))
        except SignerdError:
            if not self.audited:
                raise
            async with audited(daemon.store, ctx.peer.to_json(), daemon.grants.refusals):
                raise
        return await self.handler(daemon, ctx, params)


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, Method[Any]] = {}

    def method(
        self, name: str, params: type[P], *, audited: bool = False
    ) -> Callable[
        [Callable[[Daemon, CallContext, P], Awaitable[Any]]],
        Callable[[Daemon, CallContext, P], Awaitable[Any]],
    ]:
        """Register the decorated coroutine as method ``name`` taking ``params``;
        ``audited``: the handler audits its requests (refusals of the params are audited
        here)."""

        def register(
            handler: Callable[[Daemon, CallContext, P], Awaitable[Any]],
        ) -> Callable[[Daemon, CallContext, P], Awaitable[Any]]:
            if name in self._methods:
                raise RuntimeError(f"method {name} registered twice")
            self._methods[name] = Method(params, handler, audited)
            return handler

        return register

    def names(self) -> list[str]:
        return sorted(self._methods)

    async def call(
        self, daemon: Daemon, ctx: CallContext, name: str, params: Mapping[str, Any]
    ) -> Any:
        method = self._methods.get(name)
        if method is None:
            raise MethodNotFound(f"method not found: {name}")
        return await method(daemon, ctx, params)


API = Registry()
