"""A job the device never lets go of (it ignores the cancel) holds the jobs after it: they
wait for it, within their queue limit, and run once it ends."""

from __future__ import annotations

import asyncio
import threading

import pytest

from signerd import worker as worker_module
from signerd.devices import Signer
from signerd.errors import ApprovalTimeout, QueueTimeout
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner


def test_jobs_behind_a_stuck_job_wait_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "CANCEL_GRACE_SECONDS", 0.05)
    gate = threading.Event()
    ran: list[str] = []
    started: list[str] = []

    async def run(worker: DeviceWorker, name: str, queue_timeout: float) -> None:
        def op(_signer: Signer) -> None:
            ran.append(name)

        await worker.run(op, queue_timeout=queue_timeout, on_start=lambda: started.append(name))

    async def scenario() -> None:
        fake = FakeSigner(answer="approve")
        worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
        try:
            with pytest.raises(ApprovalTimeout):
                await worker.run(lambda _s: gate.wait(10), timeout=0.05)
            # The stuck job still holds the device's thread: each later job waits behind it.
            for name in ("second", "third"):
                with pytest.raises(QueueTimeout):
                    await asyncio.wait_for(run(worker, name, queue_timeout=0.1), 5)
            gate.set()
            await run(worker, "next", queue_timeout=5)
            assert worker.pending == 0
        finally:
            gate.set()
            worker.close()

    asyncio.run(scenario())
    assert ran == started == ["next"]
