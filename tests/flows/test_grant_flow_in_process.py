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
from signerd.config import Policy
from signerd.errors import (
    ApprovalTimeout,
    GrantExists,
    PolicyRefused,
    QueueTimeout,
    SignerdError,
    UserRejected,
)
from signerd.grants import verify_grant
from tests.fakes import FakeSigner
from tests.flows.harness import running
from tests.support import USDC_BASE, grant_params


def fixed_request() -> dict[str, Any]:
    now = int(time.time())
    params = grant_params(nonce=7, validAfter=now, validUntil=now + 3600)
    del params["validFor"]
    return params


def test_an_approved_grant_is_stored_with_its_steps_and_one_outcome(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner(answer="approve")) as harness:
            reply = await harness.call("signerd_requestGrant", grant_params())
            grant = reply["grant"]
            assert verify_grant(grant, expected_signer=MASTER_ADDRESS).valid
            assert harness.daemon.store.get_grant(grant["id"]) is not None
            assert harness.outcomes() == ["request_received", "shown_on_device", "approved"]
            assert harness.fake.prompts == 1

    asyncio.run(scenario())


def test_a_duplicate_never_reaches_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        with running(tmp_path, FakeSigner(answer="approve")) as harness:
            params = fixed_request()
            await harness.call("signerd_requestGrant", params)
            with pytest.raises(GrantExists):
                await harness.call("signerd_requestGrant", params)
            assert harness.fake.prompts == 1
            assert harness.outcomes()[-2:] == ["request_received", "duplicate"]

    asyncio.run(scenario())


def test_two_identical_requests_in_flight_reach_the_device_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeSigner(answer="hang")
        with running(tmp_path, fake) as harness:
            params = fixed_request()
            first = asyncio.create_task(harness.call("signerd_requestGrant", params))
            await asyncio.to_thread(fake.wait_for_review)
            with pytest.raises(GrantExists):
                await harness.call("signerd_requestGrant", params)
            await asyncio.to_thread(fake.press_yes)
            await first
            assert fake.prompts == 1

    asyncio.run(scenario())


def test_policy_refusal_never_reaches_the_device(tmp_path: Path) -> None:
    async def scenario() -> None:
        policy = Policy(max_allowance={USDC_BASE: 1})
        with running(tmp_path, FakeSigner(answer="approve"), policy=policy) as harness:
            with pytest.raises(PolicyRefused):
                await harness.call("signerd_requestGrant", grant_params())
            assert harness.fake.prompts == 0
            assert harness.outcomes() == ["request_received", "policy_refused"]

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
        with running(tmp_path, FakeSigner(answer=answer), **config) as harness:
            with pytest.raises(error):
                await harness.call("signerd_requestGrant", grant_params())
            assert harness.outcomes() == ["request_received", "shown_on_device", outcome]

    asyncio.run(scenario())


def test_a_queue_wait_past_its_limit_is_a_queue_timeout(tmp_path: Path) -> None:
    async def scenario() -> None:
        fake = FakeSigner(answer="hang")
        with running(tmp_path, fake, queue_timeout=0.3, approval_timeout=30.0) as harness:
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

    asyncio.run(scenario())


def test_the_device_thread_never_writes_the_store(tmp_path: Path) -> None:
    writers: set[str] = set()

    async def scenario() -> None:
        with running(tmp_path, FakeSigner(answer="approve")) as harness:
            store = harness.daemon.store
            for name in ("add_grant", "append_audit", "append_audit_entries", "revoke_grant"):
                original = getattr(store, name)

                def spy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                    writers.add(threading.current_thread().name)
                    return _original(*args, **kwargs)

                setattr(store, name, spy)
            await harness.call("signerd_requestGrant", grant_params())
            with pytest.raises(UserRejected):
                harness.fake.answer = "reject"
                await harness.call("signerd_requestGrant", grant_params())

    asyncio.run(scenario())
    assert writers, "the store was never written"
    assert not any(name.startswith("device") for name in writers), writers
