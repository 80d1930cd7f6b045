"""`signerd serve`: wire the store, the device worker, the flows and the socket together."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

from signerd.api import Daemon
from signerd.config import Config
from signerd.devices.discovery import resolve_device
from signerd.devices.registry import find_by_path
from signerd.errors import SignerdError
from signerd.flows.delegation import DelegationFlow
from signerd.flows.grant import GrantFlow
from signerd.flows.held_keys import HeldKeys
from signerd.flows.payment import PaymentFlow
from signerd.rpc.server import RpcServer
from signerd.store import Store
from signerd.worker import DeviceWorker

LOG = logging.getLogger(__name__)


def assemble(config: Config, worker: DeviceWorker, store: Store) -> Daemon:
    """The daemon's parts on one device worker and one store (``serve`` and in-process tests)."""
    keys = HeldKeys(config, worker, store)
    return Daemon(
        config=config,
        worker=worker,
        store=store,
        grants=GrantFlow(config, worker, store, keys),
        started_at=time.time(),
        keys=keys,
        payments=PaymentFlow(store, keys),
        delegations=DelegationFlow(config, worker, store),
    )


async def serve(config: Config, *, ready: Callable[[Path], None] | None = None) -> None:
    """Serve until SIGTERM, SIGINT or ``signerd_shutdown``; the socket is removed on the way
    out (unless a launcher passed it). ``ready`` is called with the socket's path once it
    listens."""
    if config.device is None:
        raise SignerdError("no device: pass --device PATH or set daemon.device in the config")
    device = await asyncio.to_thread(resolve_device, config.device)
    find_by_path(device)  # a mistyped path fails here (exit 2), not as a device never found
    store = Store.open(config.data_dir)
    worker = DeviceWorker(device, allow_blind_signing=config.allow_blind_signing)
    held = store.count_held_keys()
    if held:
        LOG.info("%d held session keys, locked until unlocked on the device (signerd_unlock)", held)
    daemon = assemble(config, worker, store)
    server = RpcServer(daemon, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    daemon.shutdown = stop.set
    try:
        await server.start()
        daemon.removes_socket = not server.activated
        connecting = asyncio.create_task(_connect(worker, config.derivation_path))
        if ready is not None:
            ready(server.socket_path)
        collect_less()
        await stop.wait()
        LOG.info("shutting down")
        connecting.cancel()
        await server.stop()
        await daemon.grants.refusals.flush()
        daemon.payments.paid_lines.flush()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        worker.close()
        store.close()


# Python's collector runs a young collection every 700 net new container objects. Fifty
# payments in flight hold about that many (their parsed JSON, records, replies), so under load
# it ran ~1,000 times a second, and its full collections walked the whole start-up heap
# (~75,000 objects, ~20 ms each): 9% of the event loop's time at 50 paying clients. Nearly
# everything a request allocates is freed by reference counting; cycles wait a little longer.
GC_THRESHOLDS = (10_000, 10, 10)


def collect_less() -> None:
    """Fewer, later collections for a daemon whose requests allocate in bursts; what was
    loaded at start-up (modules, tables) is left out of every later collection (freeze)."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


async def _connect(worker: DeviceWorker, derivation_path: str) -> None:
    """Say at start-up what device is there; absence is not fatal (it may be plugged later)."""
    try:
        info = await worker.connect()
        account = await worker.account(derivation_path)
    except SignerdError as exc:
        LOG.warning("device %s not available yet: %s", worker.path, exc)
        return
    LOG.info(
        "device: %s %s (firmware %s) at %s, account %s; shows typed-data fields: %s",
        info.family,
        info.model,
        info.firmware,
        info.path,
        account,
        "yes" if info.shows_typed_data_fields else "no (hash-only)",
    )
