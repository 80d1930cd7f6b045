"""A Ledger review that outlived its request, on the simulated Ledger (signerd/devices/ledger/
stale.py): the next operation waits for the old review's answer, tells the person what is on
the screen, never takes that answer for its own, and fails clearly if the screen stays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.ledger.launch import LedgerSimulatorProcess
from signerd.devices.ledger import LedgerSigner
from signerd.devices.ledger.stale import STALE_REVIEW_HELP
from signerd.errors import Cancelled, StaleReview
from signerd.launch import wait_until
from tests.devices.test_ledger import GRANT, PATH, expected_typed_signature


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[LedgerSimulatorProcess]:
    process = LedgerSimulatorProcess(model="stax", auto=None, log_path=tmp_path / "sim.log")
    process.start()
    yield process
    process.stop()


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``action`` in a thread; the list gets its result or its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def abandon_a_review(sim: LedgerSimulatorProcess, signer: LedgerSigner) -> list[str]:
    """Start a message signature, cancel it from the host: its review stays on the screen."""
    thread, outcome = in_thread(lambda: signer.sign_message(b"the first request", PATH))
    stale_screen = sim.wait_for_review()
    signer.cancel()
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert sim.current_screen() == stale_screen  # no cancel APDU: the review is still there
    return stale_screen


def test_a_late_approval_is_never_taken_for_the_next_request(
    sim: LedgerSimulatorProcess,
) -> None:
    with LedgerSigner(sim.path) as signer:
        stale_screen = abandon_a_review(sim, signer)
        told: list[str] = []
        thread, outcome = in_thread(lambda: signer.sign_typed_data(GRANT, PATH, notify=told.append))
        wait_until(lambda: STALE_REVIEW_HELP in told, 10, what="the person told of the old review")
        assert not outcome  # nothing of the new request reached the device meanwhile
        sim.press_yes()  # the person approves the *old* review after all
        wait_until(
            lambda: sim.current_screen() not in ([], sim.home, stale_screen),
            30,
            what="the new request's review",
        )
        sim.press_yes()
        thread.join(30)
    # The old approval was dropped; the new request got its own signature.
    assert outcome == [expected_typed_signature()]


def test_a_review_left_on_the_screen_is_a_clear_error(sim: LedgerSimulatorProcess) -> None:
    with LedgerSigner(sim.path, stale_wait=1.5) as signer:
        abandon_a_review(sim, signer)
        started = time.monotonic()
        with pytest.raises(StaleReview, match="reject it there"):
            signer.sign_typed_data(GRANT, PATH, notify=lambda _line: None)
        assert time.monotonic() - started < 10
        # Quick questions refuse too, without sending anything behind the review.
        with pytest.raises(StaleReview):
            signer.get_address(PATH)
        sim.press_no()  # the person rejects it at last
        thread, outcome = in_thread(lambda: signer.sign_typed_data(GRANT, PATH))
        sim.wait_for_review()
        sim.press_yes()
        thread.join(30)
    assert outcome == [expected_typed_signature()]
