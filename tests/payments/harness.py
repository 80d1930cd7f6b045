"""The payment methods in process: a daemon on a FakeSigner with one approved payment grant
whose session key a test key store holds (tests only: the daemon's own are held keys)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from eth_keys.datatypes import PrivateKey

from signerd.api import API, CallContext, Daemon
from signerd.config import Config
from signerd.daemon import assemble
from signerd.errors import PaymentRefused
from signerd.flows.payment import PaymentFlow
from signerd.rpc.peer import Peer
from signerd.rpc.server import RpcServer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner
from tests.payments.factories import authorization, new_key, payment_grant_params

PEER = Peer(pid=4242, uid=1000, gid=1000, exe="/usr/bin/agent")


class KeysInMemory:
    """A SessionKeys for tests: the keys of grants the test created, in memory; counts how
    often a key was handed out for signing."""

    def __init__(self, *keys: PrivateKey) -> None:
        self._keys = {k.public_key.to_checksum_address(): k for k in keys}

    async def signing_key(self, address: str) -> PrivateKey:
        try:
            return self._keys[address]
        except KeyError:
            raise PaymentRefused(f"no key for {address}", {"reason": "key_not_held"}) from None


class Shop:
    """A daemon in process with one approved payment grant whose key the test holds."""

    def __init__(self, daemon: Daemon, key: PrivateKey, grant_id: str) -> None:
        self.daemon = daemon
        self.key = key
        self.address = key.public_key.to_checksum_address()
        self.grant_id = grant_id

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        ctx = CallContext(
            peer=PEER, request_id=1, notify=lambda _m, _p: None, cancel=lambda _i: False
        )
        return await API.call(self.daemon, ctx, method, params)

    async def pay(self, **kwargs: Any) -> dict[str, Any]:
        reply: dict[str, Any] = await self.call(
            "signerd_signPayment",
            {"grantId": self.grant_id, "typedData": authorization(self.address, **kwargs)},
        )
        return reply

    def spends(self) -> list[Any]:
        return self.daemon.store.list_spends(grant_id=self.grant_id)

    def events(self) -> list[str]:
        return [e.event for e in self.daemon.store.audit_entries()]


@asynccontextmanager
async def shop(tmp_path: Path, **grant: Any) -> AsyncIterator[Shop]:
    key = new_key()
    settings = Config(device="fake", data_dir=tmp_path)
    store = Store.open(tmp_path)
    fake = FakeSigner(answer="approve")
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    daemon = dataclasses.replace(
        assemble(settings, worker, store), payments=PaymentFlow(store, KeysInMemory(key))
    )
    try:
        ctx = CallContext(
            peer=PEER, request_id=1, notify=lambda _m, _p: None, cancel=lambda _i: False
        )
        params = payment_grant_params(key.public_key.to_checksum_address(), **grant)
        reply = await API.call(daemon, ctx, "signerd_requestGrant", params)
        yield Shop(daemon, key, reply["grant"]["id"])
    finally:
        worker.close()
        store.close()


class ServedDaemon:
    """The daemon's parts on a real socket (signerd.rpc.server), in process, on a loop of its
    own thread: a FakeSigner that approves, and payments signed with the test's keys."""

    def __init__(self, data_dir: Path, *keys: PrivateKey) -> None:
        self._socket_dir = Path(tempfile.mkdtemp(prefix="sd-"))  # short: sun_path is 108 bytes
        self.socket_path = self._socket_dir / "signerd.sock"
        self.data_dir = data_dir
        self._keys = keys
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="served-daemon", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        settings = Config(device="fake", data_dir=self.data_dir, socket_path=self.socket_path)
        store = Store.open(self.data_dir)
        fake = FakeSigner(answer="approve")
        worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
        daemon = dataclasses.replace(
            assemble(settings, worker, store),
            payments=PaymentFlow(store, KeysInMemory(*self._keys)),
        )
        server = RpcServer(daemon, settings)
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await server.start()
            self._ready.set()
            await self._stop.wait()
            await server.stop()
        finally:
            worker.close()
            store.close()

    def __enter__(self) -> ServedDaemon:
        self._thread.start()
        self._ready.wait(30)
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        shutil.rmtree(self._socket_dir, ignore_errors=True)
