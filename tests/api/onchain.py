"""An in-process daemon on a FakeSigner that knows one chain's Delegation Framework (made-up
addresses: nothing here talks to a node), for the on-chain methods' tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signerd.api import API, CallContext, Daemon
from signerd.config import Config
from signerd.daemon import assemble
from signerd.onchain.caveats import Enforcers
from signerd.onchain.chains import ChainConfig
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner

PEER = Peer(pid=4242, uid=1000, gid=1000, exe="/usr/bin/agent")
CHAIN_ID = 8453


def _address(n: int) -> str:
    from eth_utils.address import to_checksum_address

    return to_checksum_address(f"0x{n:040x}")


ENFORCERS = Enforcers(*[_address(0xE0 + i) for i in range(6)])
BASE = ChainConfig(
    chain_id=CHAIN_ID,
    delegation_manager=_address(0xD1),
    entry_point=_address(0xD2),
    factory=_address(0xD3),
    hybrid_implementation=_address(0xD4),
    enforcers=ENFORCERS,
)


@dataclass
class InProcess:
    daemon: Daemon
    fake: FakeSigner
    progress: list[str] = field(default_factory=list)

    def call(self, method: str, params: dict[str, Any]) -> Any:
        def notify(_method: str, payload: dict[str, Any]) -> None:
            self.progress.append(payload["message"])

        ctx = CallContext(peer=PEER, request_id=1, notify=notify, cancel=lambda _i: False)
        return asyncio.run(API.call(self.daemon, ctx, method, params))


@contextmanager
def in_process(
    tmp_path: Path, chains: dict[int, ChainConfig] | None = None, **config_fields: Any
) -> Iterator[InProcess]:
    config = Config(
        device="fake",
        data_dir=tmp_path,
        chains={CHAIN_ID: BASE} if chains is None else chains,
        **config_fields,
    )
    store = Store.open(tmp_path)
    fake = FakeSigner(answer="approve")
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    try:
        yield InProcess(assemble(config, worker, store), fake)
    finally:
        worker.close()
        store.close()
