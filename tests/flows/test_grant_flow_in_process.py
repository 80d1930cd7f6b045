"""The grant flow in process, on a FakeSigner: what reaches the device, what reaches the store.

No socket and no emulator: the registry is called as the server calls it, so these tests pin
the flow's order (checks before the device), its one audit outcome per request, and that the
device thread never touches the store.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from emulator.keys import MASTER_ADDRESS
from signerd.api import API, CallContext, Daemon
from signerd.config import Config, Policy
from signerd.daemon import assemble
from signerd.errors import (
    ApprovalTimeout,
    GrantExists,
    PolicyRefused,
    QueueTimeout,
    SignerdError,
    UserRejected,
)
from signerd.grants import verify_grant
from signerd.rpc.peer import Peer
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.fakes import FakeSigner
from tests.support import USDC_BASE, grant_params

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


def make_harness(tmp_path: Path, fake: FakeSigner, **config: Any) -> Harness:
    settings = Config(device="fake", data_dir=tmp_path, **config)
    store = Store.open(tmp_path)
    worker = DeviceWorker("fake", opener=lambda _path, **_kw: fake)
    return Harness(assemble(settings, worker, store), fake)


def fixed_request() -> dict[str, Any]:
    now = int(time.time())
    params = grant_params(nonce=7, validAfter=now, validUntil=now + 3600)
    del params["validFor"]
    return params


def test_an_approved_grant_is_stored_with_its_steps_and_one_outcome(tmp_path: Path) -> None:
    async def scenario() -> None:
        harness = make_harness(tmp_path, FakeSigner(answer="approve"))
        try:
            reply = await harness.call("signerd_requestGrant", grant_params())
            grant = reply["grant"]
            assert verify_grant(grant, expected_signer=MASTER_ADDRESS).valid
            assert harness.daemon.store.get_grant(grant["id"]) is not None
            assert harness.outcomes() == ["request_received", "shown_on_device", "approved"]
            assert harness.fake.prompts == 1
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


def test_a_duplicate_never_reaches_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        harness = make_harness(tmp_path, FakeSigner(answer="approve"))
        try:
            params = fixed_request()
            await harness.call("signerd_requestGrant", params)
            with pytest.raises(GrantExists):
                await harness.call("signerd_requestGrant", params)
            assert harness.fake.prompts == 1
            assert harness.outcomes()[-2:] == ["request_received", "duplicate"]
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


def test_two_identical_requests_in_flight_reach_the_device_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeSigner(answer="hang")
        harness = make_harness(tmp_path, fake)
        try:
            params = fixed_request()
            first = asyncio.create_task(harness.call("signerd_requestGrant", params))
            await asyncio.to_thread(fake.wait_for_review)
            with pytest.raises(GrantExists):
                await harness.call("signerd_requestGrant", params)
            await asyncio.to_thread(fake.press_yes)
            await first
            assert fake.prompts == 1
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


def test_policy_refusal_never_reaches_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        policy = Policy(max_allowance={USDC_BASE: 1})
        harness = make_harness(tmp_path, FakeSigner(answer="approve"), policy=policy)
        try:
            with pytest.raises(PolicyRefused):
                await harness.call("signerd_requestGrant", grant_params())
            assert harness.fake.prompts == 0
            assert harness.outcomes() == ["request_received", "policy_refused"]
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("answer", "config", "error", "outcome"),
    [
        ("reject", {}, UserRejected, "rejected"),
        ("hang", {"approval_timeout": 0.3}, ApprovalTimeout, "timed_out"),
    ],
)
def test_each_ending_has_its_error_and_its_one_outcome(
    tmp_path: Path, answer: Any, config: dict[str, Any], error: type[SignerdError], outcome: str
) -> None:
    async def scenario() -> None:
        harness = make_harness(tmp_path, FakeSigner(answer=answer), **config)
        try:
            with pytest.raises(error):
                await harness.call("signerd_requestGrant", grant_params())
            assert harness.outcomes() == ["request_received", "shown_on_device", outcome]
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


def test_a_queue_wait_past_its_limit_is_a_queue_timeout(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeSigner(answer="hang")
        harness = make_harness(tmp_path, fake, queue_timeout=0.3, approval_timeout=30.0)
        try:
            first = asyncio.create_task(harness.call("signerd_requestGrant", grant_params()))
            await asyncio.to_thread(fake.wait_for_review)
            with pytest.raises(QueueTimeout):
                await harness.call("signerd_requestGrant", grant_params(), request_id=2)
            await asyncio.to_thread(fake.press_no)
            with pytest.raises(UserRejected):
                await first
            assert sorted(e for e in harness.outcomes() if e in {"queue_timeout", "rejected"}) == [
                "queue_timeout",
                "rejected",
            ]
        finally:
            harness.daemon.worker.close()
            harness.daemon.store.close()

    asyncio.run(scenario())


def test_the_device_thread_never_writes_the_store(tmp_path: Path) -> None:
    writers: set[str] = set()

    async def scenario() -> None:
        harness = make_harness(tmp_path, FakeSigner(answer="approve"))
        store = harness.daemon.store
        for name in ("add_grant", "append_audit", "append_audit_entries", "revoke_grant"):
            original = getattr(store, name)

            def spy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                writers.add(threading.current_thread().name)
                return _original(*args, **kwargs)

            setattr(store, name, spy)
        try:
            await harness.call("signerd_requestGrant", grant_params())
            with pytest.raises(UserRejected):
                harness.fake.answer = "reject"
                await harness.call("signerd_requestGrant", grant_params())
        finally:
            harness.daemon.worker.close()
            store.close()

    asyncio.run(scenario())
    assert writers, "the store was never written"
    assert not any(name.startswith("device") for name in writers), writers
