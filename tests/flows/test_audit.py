"""Coalesced audit of refusals (signerd/flows/audit.py): a flood of refused requests from one
peer writes a handful of entries, and every request is still accounted for exactly once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from signerd.config import Policy
from signerd.errors import BudgetExceeded, PolicyRefused
from tests.fakes import FakeSigner
from tests.flows.harness import running
from tests.payments.factories import BUDGET, MAX_PER_PAYMENT
from tests.payments.harness import shop
from tests.support import USDC_BASE, grant_params

FLOOD = 3000


def test_a_refusal_flood_is_counted_not_written_row_by_row(tmp_path: Path) -> None:
    async def scenario() -> None:
        policy = Policy(max_allowance={USDC_BASE: 1})
        with running(tmp_path, FakeSigner(answer="approve"), policy=policy) as harness:
            started = time.monotonic()
            for n in range(FLOOD):
                with pytest.raises(PolicyRefused):
                    await harness.call("signerd_requestGrant", grant_params(), request_id=n)
            elapsed = time.monotonic() - started
            await harness.daemon.grants.refusals.flush()
            entries = harness.daemon.store.audit_entries(limit=1000)
            outcomes = [e for e in entries if e.event == "policy_refused"]
            # One row per request would be FLOOD rows; at most two per window of a second.
            assert len(outcomes) <= 2 * (elapsed + 2), (len(outcomes), elapsed)
            accounted = sum((e.detail or {}).get("count", 1) for e in outcomes)
            assert accounted == FLOOD
            assert harness.fake.prompts == 0
            assert harness.daemon.store.verify_audit().ok

    asyncio.run(scenario())


def test_a_refusal_after_the_window_is_written_on_its_own(tmp_path: Path) -> None:
    async def scenario() -> None:
        policy = Policy(max_allowance={USDC_BASE: 1})
        with running(tmp_path, FakeSigner(answer="approve"), policy=policy) as harness:
            for _ in range(3):
                with pytest.raises(PolicyRefused):
                    await harness.call("signerd_requestGrant", grant_params())
            await asyncio.sleep(1.2)  # the window closes and writes its count
            with pytest.raises(PolicyRefused):
                await harness.call("signerd_requestGrant", grant_params())
            events = [
                (e.event, (e.detail or {}).get("count"))
                for e in harness.daemon.store.audit_entries()
            ]
            assert events == [
                ("request_received", None),
                ("policy_refused", None),
                ("policy_refused", 2),
                ("request_received", None),
                ("policy_refused", None),
            ]

    asyncio.run(scenario())


PAYMENT_FLOOD = 500


def test_a_flood_of_refused_payments_is_counted_not_written_row_by_row(tmp_path: Path) -> None:
    """An agent paying past its budget as fast as it can: one durable write per window, not
    one per payment, so the other agents' payments keep the disk."""

    async def scenario() -> None:
        async with shop(tmp_path) as s:
            for _ in range(BUDGET // MAX_PER_PAYMENT):
                await s.pay(value=MAX_PER_PAYMENT)
            left = BUDGET % MAX_PER_PAYMENT
            before = len(s.daemon.store.audit_entries(limit=1000))
            started = time.monotonic()
            for _ in range(PAYMENT_FLOOD):
                with pytest.raises(BudgetExceeded):
                    await s.pay(value=left + 1)
            elapsed = time.monotonic() - started
            await s.daemon.grants.refusals.flush()
            entries = s.daemon.store.audit_entries(limit=1000)[before:]
            outcomes = [e for e in entries if e.event == "spend_refused"]
            assert len(outcomes) <= 2 * (elapsed + 2), (len(outcomes), elapsed)
            assert sum((e.detail or {}).get("count", 1) for e in outcomes) == PAYMENT_FLOOD
            assert f"exceeds the {left} left" in (outcomes[-1].detail or {})["reason"]
            assert len(s.spends()) == BUDGET // MAX_PER_PAYMENT
            assert s.daemon.store.verify_audit().ok
            await s.pay(value=left)  # what is left still goes through

    asyncio.run(scenario())
