"""The daemon's log tells what happened, one INFO event line per request and per outcome,
with no traceback for an expected outcome and no secret."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.errors import ApprovalTimeout, HeldKeyNotFound, PaymentRefused, UserRejected
from signerd.launch import DaemonProcess, wait_until
from tests.payments.factories import MAX_PER_PAYMENT, OTHER_PAYEE, authorization
from tests.payments.harness import shop
from tests.support import REPLY_TIMEOUT, STATE_TIMEOUT, grant_params, pending, request_in_background

EVENT = re.compile(r" INFO signerd\.events: (\w+) (\{.*\})$")


def events(log: str) -> list[tuple[str, dict[str, object]]]:
    """The event lines of a daemon log: (event, detail)."""
    found = []
    for line in log.splitlines():
        match = EVENT.search(line)
        if match:
            found.append((match.group(1), json.loads(match.group(2))))
    return found


def wait_for_pending(daemon: DaemonProcess, count: int) -> None:
    wait_until(lambda: pending(daemon) == count, STATE_TIMEOUT, what=f"{count} pending")


def test_outcomes_are_one_event_line_each_without_tracebacks(tmp_path: Path) -> None:
    with TrezorSimulatorProcess(log_path=tmp_path / "sim.log") as device:
        config = "[daemon]\napproval_timeout = 1.5\n"
        with DaemonProcess(device.path, tmp_path / "d", config=config) as daemon:
            with Client(daemon.socket_path) as client, pytest.raises(ApprovalTimeout):
                client.request_grant(**grant_params(agent="sleepy"))
            with ThreadPoolExecutor(1) as pool:
                rejected = request_in_background(daemon, pool, agent="refused")
                wait_for_pending(daemon, 1)
                device.press_no()
                with pytest.raises(UserRejected):
                    rejected.result(timeout=REPLY_TIMEOUT)
                approved = request_in_background(daemon, pool, agent="approved")
                wait_for_pending(daemon, 1)
                device.press_yes()
                grant = approved.result(timeout=REPLY_TIMEOUT)["grant"]
            session_key = grant["typedData"]["message"]["sessionKey"]
            with Client(daemon.socket_path) as client:
                # The agent holds this grant's key itself: the daemon has none to pay with.
                with pytest.raises(HeldKeyNotFound):
                    client.sign_payment(grant["id"], authorization(session_key))
                client.revoke_grant(grant["id"], "done")
        log = daemon.log()
    assert "Traceback" not in log and "never retrieved" not in log, log
    seen = events(log)
    outcomes = [event for event, _ in seen if event != "request"]
    assert outcomes == ["timed_out", "rejected", "approved", "spend_refused", "revoked"], log
    # The four requests that waited for the device; the payment logs its outcome alone.
    assert [event for event, _ in seen].count("request") == 3
    details = dict((event, detail) for event, detail in seen if event != "request")
    assert details["timed_out"]["error"] == "APPROVAL_TIMEOUT"
    assert details["rejected"]["error"] == "REJECTED_ON_DEVICE"
    assert details["approved"]["grant"] == grant["id"]
    assert details["spend_refused"]["error"] == "HELD_KEY_NOT_FOUND"
    assert details["revoked"] == {**details["revoked"], "grant": grant["id"], "reason": "done"}
    assert grant["signature"][2:] not in log


def test_a_payment_and_its_refusal_are_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> tuple[str, str]:
        async with shop(tmp_path) as s:
            paid = await s.pay(value=MAX_PER_PAYMENT)
            with pytest.raises(PaymentRefused):
                await s.pay(to=OTHER_PAYEE)
            return s.grant_id, paid["signature"]

    with caplog.at_level(logging.INFO, logger="signerd.events"):
        grant_id, signature = asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "signerd.events"]
    outcomes = [line.split(" ", 1) for line in lines]
    # One line per payment, paid or refused; the grant's request has its "request" line too.
    assert [event for event, _ in outcomes] == ["request", "approved", "paid", "spend_refused"]
    paid = json.loads(outcomes[2][1])
    assert (paid["grant"], paid["amount"]) == (grant_id, str(MAX_PER_PAYMENT))
    assert signature[2:] not in "\n".join(lines)


def test_a_burst_of_payments_logs_its_first_and_then_a_count(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One line per payment would flood the journal (journald drops a service's lines past
    10,000 in 30 s): within a second, the first is logged and the rest counted."""

    async def scenario() -> str:
        async with shop(tmp_path) as s:
            for _ in range(5):
                await s.pay(value=1)
            await asyncio.sleep(1.2)  # the window closes and logs its count
            await s.pay(value=2)
            s.daemon.payments.paid_lines.flush()
            return s.grant_id

    with caplog.at_level(logging.INFO, logger="signerd.events"):
        grant_id = asyncio.run(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "signerd.events"]
    paid = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("paid ")]
    assert [(p.get("count"), p["amount"]) for p in paid] == [(None, "1"), (4, "4"), (None, "2")]
    assert all(p["grant"] == grant_id for p in paid)
