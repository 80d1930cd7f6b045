"""Fair queuing in the DeviceWorker: turns go round the owners (peers), not first come first
served, so one agent's waiting requests do not hold up another agent's."""

from __future__ import annotations

import asyncio
import threading

import pytest

from signerd.devices import Signer
from signerd.errors import QueueTimeout
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner

A, B = (1000, 11), (1000, 22)  # two agents of one uid


def test_a_second_agent_is_served_before_the_first_agents_backlog() -> None:
    ran: list[str] = []
    gate = threading.Event()

    def job(name: str, wait: bool = False) -> object:
        def op(_signer: Signer) -> None:
            if wait:
                gate.wait(10)
            ran.append(name)

        return op

    async def scenario() -> None:
        fake = FakeSigner(answer="approve")
        worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
        try:
            first = asyncio.create_task(worker.run(job("a0", wait=True), owner=A))
            await asyncio.sleep(0.05)
            backlog = [asyncio.create_task(worker.run(job(f"a{n}"), owner=A)) for n in (1, 2, 3)]
            await asyncio.sleep(0.01)
            other = asyncio.create_task(worker.run(job("b0"), owner=B))
            await asyncio.sleep(0.01)
            gate.set()
            await asyncio.gather(first, *backlog, other)
        finally:
            worker.close()

    asyncio.run(scenario())
    assert ran == ["a0", "b0", "a1", "a2", "a3"]


def test_a_withdrawn_or_timed_out_wait_gives_no_turn_away() -> None:
    gate = threading.Event()
    ran: list[str] = []

    async def scenario() -> None:
        fake = FakeSigner(answer="approve")
        worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
        try:
            first = asyncio.create_task(worker.run(lambda _s: gate.wait(10), owner=A))
            await asyncio.sleep(0.05)
            with pytest.raises(QueueTimeout):
                await worker.run(lambda _s: ran.append("late"), owner=B, queue_timeout=0.05)
            withdrawn = asyncio.create_task(worker.run(lambda _s: ran.append("gone"), owner=B))
            await asyncio.sleep(0.01)
            withdrawn.cancel()
            gate.set()
            await first
            await worker.run(lambda _s: ran.append("next"), owner=B, queue_timeout=5)
            assert worker.pending == 0
        finally:
            worker.close()

    asyncio.run(scenario())
    assert ran == ["next"]
