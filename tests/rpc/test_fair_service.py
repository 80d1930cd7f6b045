"""Fair service in process: a per-uid connection cap, and CPU-heavy methods off the loop.

The server runs on a FakeSigner in this process (no emulator), on a socket under tmp_path.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import signerd.api.grants as grants_api
from signerd.config import Config
from signerd.daemon import assemble
from signerd.errors import ErrorCode
from signerd.rpc.server import RpcServer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner


@asynccontextmanager
async def serving(tmp_path: Path, **config: Any) -> AsyncIterator[Path]:
    socket_path = tmp_path / "run" / "signerd.sock"
    settings = Config(device="fake", data_dir=tmp_path, socket_path=socket_path, **config)
    store = Store.open(tmp_path)
    fake = FakeSigner(answer="approve")
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    daemon = assemble(settings, worker, store)
    server = RpcServer(daemon, settings)
    await server.start()
    try:
        yield socket_path
    finally:
        await server.stop()
        worker.close()
        store.close()


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def call(stream: Stream, method: str, params: Any = None, request_id: int = 1) -> Any:
    reader, writer = stream
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
    while True:
        reply = json.loads(await asyncio.wait_for(reader.readline(), 10))
        if "id" in reply:
            return reply


def test_one_uid_cannot_take_every_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serving(tmp_path, max_connections=100, max_connections_per_uid=3) as path:
            held = [await asyncio.open_unix_connection(str(path)) for _ in range(3)]
            for stream in held:
                assert "result" in await call(stream, "signerd_status")
            extra = await asyncio.open_unix_connection(str(path))
            reply = await call(extra, "signerd_status")
            assert reply["error"]["code"] == ErrorCode.TOO_MANY_CONNECTIONS
            assert "max_connections_per_uid" in reply["error"]["message"]
            extra[1].close()
            # A closed connection gives its place back.
            held.pop()[1].close()
            await asyncio.sleep(0.1)
            again = await asyncio.open_unix_connection(str(path))
            assert "result" in await call(again, "signerd_status")
            for _reader, writer in [*held, again]:
                writer.close()

    asyncio.run(scenario())


def test_verify_grant_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verification's CPU never runs on the loop's thread, so status answers during a flood."""
    threads: list[threading.Thread] = []
    real: Callable[..., Any] = grants_api.verify_grant

    def slow_verify(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        time.sleep(0.2)  # stands for the signature recovery's CPU time
        return real(*args, **kwargs)

    monkeypatch.setattr(grants_api, "verify_grant", slow_verify)

    async def scenario() -> None:
        async with serving(tmp_path) as path:
            flooders = [await asyncio.open_unix_connection(str(path)) for _ in range(8)]
            flood = [
                asyncio.create_task(call(s, "signerd_verifyGrant", {"grant": {"id": "x"}}))
                for s in flooders
            ]
            await asyncio.sleep(0.05)
            probe = await asyncio.open_unix_connection(str(path))
            started = time.monotonic()
            assert "result" in await call(probe, "signerd_status")
            latency = time.monotonic() - started
            await asyncio.gather(*flood)
            loop_thread = threading.current_thread()
            assert threads and all(t is not loop_thread for t in threads)
            # 8 verifications of 0.2 s on the loop would hold status up for over a second.
            assert latency < 0.5, latency
            for _reader, writer in [*flooders, probe]:
                writer.close()

    asyncio.run(scenario())
