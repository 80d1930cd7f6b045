"""The daemon in process on a FakeSigner: its methods called as the server calls them.

No socket and no emulator; ``running`` opens the store under a directory and closes the
worker and the store after the test, so a test can open the same directory again (a
restart).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from signerd.api import API, CallContext, Daemon
from signerd.config import Config
from signerd.daemon import assemble
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner

PEER = Peer(pid=4242, uid=1000, gid=1000, exe="/usr/bin/agent")


class Harness:
    def __init__(self, daemon: Daemon, fake: FakeSigner) -> None:
        self.daemon = daemon
        self.fake = fake
        self.progress: list[str] = []

    async def call(self, method: str, params: dict[str, Any], request_id: int = 1) -> Any:
        ctx = CallContext(
            peer=PEER,
            request_id=request_id,
            notify=lambda _m, p: self.progress.append(p["message"]),
            cancel=lambda _id: False,
        )
        return await API.call(self.daemon, ctx, method, params)

    def outcomes(self) -> list[str]:
        entries = self.daemon.store.audit_entries()
        return [e.event for e in entries]

    def close(self) -> None:
        self.daemon.worker.close()
        self.daemon.store.close()


@contextmanager
def running(data_dir: Path, fake: FakeSigner, **config: Any) -> Iterator[Harness]:
    """The daemon on ``fake`` with its store in ``data_dir``; ``config``: Config's fields."""
    settings = Config(device="fake", data_dir=data_dir, **config)
    store = Store.open(data_dir)
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    harness = Harness(assemble(settings, worker, store), fake)
    try:
        yield harness
    finally:
        harness.close()
