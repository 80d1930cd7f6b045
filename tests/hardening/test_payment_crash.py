"""SIGKILL while 20 agents pay against one grant: never more signed than the budget.

`signerd serve` on the simulated Trezor holds the grant's session key (sealed under the
device's secret, unlocked on the device after every start). Twenty agents pay from it as
fast as they can, each with its own EIP-3009 nonces, while the daemon is killed (no
shutdown, no checkpoint) and restarted on the same data directory fifty times. After a lost
reply an agent either retries the same authorization (it must get the same signature) or
gives it up (its reservation must still count). At the end:

- the payments whose signatures any agent received add up to at most the budget;
- every received signature recovers to the session key and has a committed spend in the
  ledger carrying that signature;
- the restarted daemon's budget equals its ledger (spent + reserved), and the audit chain
  verifies.

And without kills: agents racing for the last units of a budget get exactly the budget.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.errors import BudgetExceeded, KeysLocked, SignerdError
from signerd.launch import DaemonProcess
from signerd.payments.eip3009 import transfer_authorization
from signerd.store import Store
from tests.payments.factories import USDC_BASE_DOMAIN, payment_grant_params
from tests.support import USDC_BASE

LOG = logging.getLogger(__name__)
AGENTS = 20
KILLS = 50
BUDGET = 400  # base units: the agents spend it within the run, so the cap is reached


@dataclass
class Received:
    """What the agents got: nonce -> (value, typed data, signature), and the refusals."""

    paid: dict[str, tuple[int, dict[str, Any], str]] = field(default_factory=dict)
    over_budget: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def held_key_grant(client: Client, amount: int) -> tuple[str, str]:
    params = payment_grant_params("", allowances=[
        {"token": USDC_BASE, "amount": str(amount), "period": 86400}
    ], payees=[])  # fmt: skip
    del params["sessionKey"]
    grant = client.request_grant(custody="daemon", **params)["grant"]
    return grant["id"], grant["typedData"]["message"]["sessionKey"]


def authorization(session: str, rng: random.Random) -> dict[str, Any]:
    payee = "0x3333333333333333333333333333333333333333"
    return transfer_authorization(
        USDC_BASE_DOMAIN, session, payee, rng.randint(1, 3), int(time.time()) + 3000
    )


def agent(
    socket_path: Path, grant_id: str, session: str, seed: int, got: Received, stop: threading.Event
) -> None:
    """Pay until told to stop, through every kill: reconnect, then retry or give up."""
    rng = random.Random(seed)
    document = authorization(session, rng)
    while not stop.is_set():
        try:
            with Client(socket_path, timeout=10) as client:
                while not stop.is_set():
                    try:
                        reply = client.sign_payment(grant_id, document)
                    except BudgetExceeded:
                        with got.lock:
                            got.over_budget += 1
                    except KeysLocked:
                        time.sleep(0.02)  # the restarted daemon is not unlocked yet
                        continue
                    else:
                        nonce = document["message"]["nonce"]
                        with got.lock:
                            earlier = got.paid.get(nonce)
                            assert earlier is None or earlier[2] == reply["signature"], nonce
                            got.paid[nonce] = (
                                document["message"]["value"],
                                document,
                                reply["signature"],
                            )
                    document = authorization(session, rng)
        except (OSError, ValueError):
            # The daemon died mid-call (or is not back yet): keep the authorization for a
            # retry, or give it up and leave its reservation (if any) counted.
            if rng.random() < 0.5:
                document = authorization(session, rng)
            time.sleep(0.01)


def unlocked_daemon(device: str, workdir: Path) -> DaemonProcess:
    daemon = DaemonProcess(device, workdir).start()
    with Client(daemon.socket_path, timeout=30) as client:
        client.unlock()
    return daemon


def recovered(document: dict[str, Any], signature: str) -> str:
    return str(
        Account.recover_message(encode_typed_data(full_message=document), signature=signature)
    )


@pytest.mark.timeout(400)
def test_kills_while_twenty_agents_pay_never_sign_beyond_the_budget(tmp_path: Path) -> None:
    rng = random.Random()
    with TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device:
        daemon = DaemonProcess(device.path, tmp_path).start()
        with Client(daemon.socket_path, timeout=30) as client:
            grant_id, session = held_key_grant(client, BUDGET)
        got, stop = Received(), threading.Event()
        with ThreadPoolExecutor(AGENTS) as pool:
            agents = [
                pool.submit(agent, daemon.socket_path, grant_id, session, n, got, stop)
                for n in range(AGENTS)
            ]
            try:
                for _ in range(KILLS):
                    time.sleep(rng.uniform(0.02, 0.3))
                    daemon.kill()
                    daemon = unlocked_daemon(device.path, tmp_path)
                time.sleep(0.5)  # the last start: let the agents spend what is left
            finally:
                stop.set()
                for future in agents:
                    future.result(timeout=60)
        try:
            with Client(daemon.socket_path, timeout=30) as client:
                [standing] = client.get_budget(grant_id)["allowances"]
                spends = client.list_spends(grantId=grant_id, limit=500)["spends"]
        finally:
            daemon.kill()

    received = sum(value for value, _, _ in got.paid.values())
    assert 0 < received <= BUDGET
    ledger = {s["key"]: s for s in spends}
    assert len(ledger) < 500  # one page held them all
    for nonce, (value, document, signature) in got.paid.items():
        assert recovered(document, signature) == session
        spend = ledger[nonce]
        assert (spend["status"], spend["signature_ref"]) == ("committed", signature)
        assert int(spend["amount"]) == value
    committed = sum(int(s["amount"]) for s in spends if s["status"] == "committed")
    reserved = sum(int(s["amount"]) for s in spends if s["status"] == "reserved")
    assert (int(standing["spent"]), int(standing["reserved"])) == (committed, reserved)
    assert int(standing["remaining"]) == BUDGET - committed - reserved
    assert received <= committed
    assert got.over_budget > 0, "the agents never reached the cap: the test proved little"
    LOG.info(
        "%d kills: %d payments received (%d units), ledger %d committed + %d reserved units"
        " of %d, %d refusals over budget",
        KILLS, len(got.paid), received, committed, reserved, BUDGET, got.over_budget,
    )  # fmt: skip
    with Store.open(tmp_path / "data") as store:
        assert store.verify_audit().ok


@pytest.mark.timeout(120)
def test_racing_agents_for_the_last_units_get_exactly_the_budget(tmp_path: Path) -> None:
    budget = 10
    with (
        TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device,
        DaemonProcess(device.path, tmp_path) as daemon,
    ):
        with Client(daemon.socket_path, timeout=30) as client:
            grant_id, session = held_key_grant(client, budget)
        start = threading.Barrier(25)

        def pay_one(seed: int) -> str:
            document = authorization(session, random.Random(seed))
            document["message"]["value"] = 1
            with Client(daemon.socket_path, timeout=30) as client:
                start.wait(10)
                try:
                    return str(client.sign_payment(grant_id, document)["signature"])
                except SignerdError as exc:
                    return type(exc).__name__

        with ThreadPoolExecutor(25) as pool:
            outcomes = list(pool.map(pay_one, range(25)))
        with Client(daemon.socket_path, timeout=30) as client:
            [standing] = client.get_budget(grant_id)["allowances"]
    signatures = [o for o in outcomes if o.startswith("0x")]
    assert len(signatures) == budget
    assert sorted(set(outcomes) - set(signatures)) == ["BudgetExceeded"]
    assert (standing["spent"], standing["remaining"]) == (str(budget), "0")
