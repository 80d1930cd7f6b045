"""The grant flow after a Ledger review outlived its request (signerd/devices/ledger/stale.py),
in process on the simulated Ledger: the next request tells the person what is on the screen
and gets its own signature, never the old review's late answer (no DeviceMismatch)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from emulator.keys import MASTER_ADDRESS
from signerd.config import Config
from signerd.daemon import assemble
from signerd.devices.ledger.stale import STALE_REVIEW_HELP
from signerd.errors import ApprovalTimeout
from signerd.grants import verify_grant
from signerd.launch import wait_until
from signerd.store import Store
from signerd.worker import DeviceWorker
from tests.flows.harness import Harness
from tests.support import grant_params, start_simulator


def test_a_late_approval_of_a_timed_out_request_is_not_the_next_ones(tmp_path: Path) -> None:
    device = start_simulator("ledger", tmp_path)
    try:

        async def scenario() -> None:
            settings = Config(device=device.path, data_dir=tmp_path, approval_timeout=1.0)
            store = Store.open(tmp_path)
            worker = DeviceWorker(device.path)
            harness = Harness(
                assemble(settings, worker, store),
                None,  # type: ignore[arg-type]  # no FakeSigner: a simulated Ledger
            )
            try:
                with pytest.raises(ApprovalTimeout):
                    await harness.call("signerd_requestGrant", grant_params(nonce=1))
                stale_screen = device.current_screen()
                assert stale_screen != device.home  # the review outlived its request
                # The person is asked for a longer window on the second request.
                settings = settings.with_overrides(approval_timeout=60.0)
                harness.daemon.config = settings
                harness.daemon.grants.config = settings
                second = asyncio.create_task(
                    harness.call("signerd_requestGrant", grant_params(nonce=2), request_id=2)
                )
                await asyncio.to_thread(
                    wait_until,
                    lambda: STALE_REVIEW_HELP in harness.progress,
                    10,
                    what="the person told of the old review",
                )
                await asyncio.to_thread(device.press_yes)  # approves the *old* review
                # Once the old answer is consumed, the signer tells the person what comes next.
                await asyncio.to_thread(
                    wait_until,
                    lambda: any("Review every field" in line for line in harness.progress),
                    30,
                    what="the second request to reach the Ledger",
                )
                await asyncio.to_thread(device.press_yes)
                reply = await second
                check = verify_grant(reply["grant"], expected_signer=MASTER_ADDRESS)
                assert check.valid and reply["grant"]["typedData"]["message"]["nonce"] == 2
            finally:
                worker.close()
                store.close()

        asyncio.run(scenario())
    finally:
        device.stop()
