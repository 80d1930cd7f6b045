"""The Signer contract (signerd/devices/base.py), checked on every family the same way.

FakeSigner, the simulated Trezor and the simulated Ledger always; trezor-emu-core and
Speculos when the environment points at them (tests/conftest.py). Vendor-only behaviour
stays in test_trezor.py and test_ledger.py.
"""

from __future__ import annotations

import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from emulator.keys import DEFAULT_MNEMONIC, MASTER_ADDRESS
from emulator.ledger.speculos_api import SpeculosLikeProcess
from emulator.process import EmulatorProcess, free_port
from signerd.devices import Signer, open_signer
from signerd.errors import Cancelled, DeviceUnavailable, UserRejected
from signerd.grants import agent_description, build_grant_typed_data, parse_grant_request
from tests.fakes import FakeSigner
from tests.support import grant_params, skip_unless_configured, start_simulator

pytestmark = pytest.mark.timeout(90)

OTHER_PATH = "m/44'/60'/0'/0/7"
# How long an aborted operation may take to end (the contract says "within a few seconds").
CANCEL_BOUND = 5.0
# How long the person may take on a review the test walks (real emulators are slow).
REVIEW_BOUND = 60.0


class Rig(ABC):
    """A device of one family, as the test drives it: its signer, its buttons, its cable."""

    @abstractmethod
    def signer(self) -> Signer: ...

    @abstractmethod
    def absent(self) -> Signer:
        """A signer of this family whose path has nothing behind it."""

    @abstractmethod
    def path(self) -> str: ...

    @abstractmethod
    def wait_for_review(self) -> None: ...

    @abstractmethod
    def press_yes(self) -> None: ...

    @abstractmethod
    def press_no(self) -> None: ...

    @abstractmethod
    def after_cancel(self) -> None:
        """What the person does once the host cancelled (a Ledger keeps the review up)."""

    @abstractmethod
    def unplug(self) -> None: ...

    @abstractmethod
    def replug(self) -> None: ...


class FakeRig(Rig):
    def __init__(self) -> None:
        self.fake = FakeSigner(answer="hang")

    def signer(self) -> Signer:
        return self.fake

    def absent(self) -> Signer:
        return FakeSigner(state="unplugged")

    def path(self) -> str:
        return self.fake.path

    def wait_for_review(self) -> None:
        self.fake.wait_for_review()

    def press_yes(self) -> None:
        self.fake.press_yes()

    def press_no(self) -> None:
        self.fake.press_no()

    def after_cancel(self) -> None:
        """The fake's review ends with the cancel, like a Trezor's."""

    def unplug(self) -> None:
        self.fake.unplug()

    def replug(self) -> None:
        self.fake.replug()


class EmulatorRig(Rig):
    def __init__(self, device: EmulatorProcess) -> None:
        self.device = device
        # The screen of a Ledger at rest (its app's home), read before any review.
        self.home = device.current_screen() if isinstance(device, SpeculosLikeProcess) else None

    def signer(self) -> Signer:
        return open_signer(self.device.path)

    def absent(self) -> Signer:
        if self.device.family == "trezor":
            return open_signer(f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}")
        return open_signer(f"tcp:127.0.0.1:{free_port()}")

    def path(self) -> str:
        return self.device.path

    def wait_for_review(self) -> None:
        self.device.wait_for_review()

    def press_yes(self) -> None:
        self.device.press_yes()

    def press_no(self) -> None:
        self.device.press_no()

    def after_cancel(self) -> None:
        if not isinstance(self.device, SpeculosLikeProcess) or self.home is None:
            return  # a Trezor clears its screen on Cancel by itself
        self.device.press_no()
        # The app answers the stale review to whichever client is connected by then: let it
        # go back to its home screen (and drop that answer) before the next client connects.
        deadline = time.monotonic() + CANCEL_BOUND
        while self.device.current_screen() != self.home:
            assert time.monotonic() < deadline, "the Ledger did not leave the dismissed review"
            time.sleep(0.05)
        time.sleep(0.1)  # the answer leaves right after the screen goes home

    def unplug(self) -> None:
        self.device.kill()

    def replug(self) -> None:
        self.device.start()


@pytest.fixture(params=["fake", "trezor", "ledger", "trezor-emu", "speculos"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    family = str(request.param)
    if family == "fake":
        yield FakeRig()
        return
    skip_unless_configured(family)
    device = start_simulator(family, tmp_path)
    try:
        yield EmulatorRig(device)
    finally:
        device.stop()


def grant() -> dict[str, Any]:
    request = parse_grant_request(grant_params(), now=int(time.time()))
    agent = agent_description("contract", 1000, 1, "pytest")
    return build_grant_typed_data(request, account=MASTER_ADDRESS, agent=agent, nonce=1)


def eth_account_signature(typed_data: dict[str, Any]) -> bytes:
    master = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    return bytes(Account.sign_typed_data(master.key, full_message=typed_data).signature)


def signing(pool: ThreadPoolExecutor, signer: Signer, typed_data: dict[str, Any]) -> Future[bytes]:
    return pool.submit(signer.sign_typed_data, typed_data)


def test_constructing_does_no_io(rig: Rig) -> None:
    with rig.absent() as signer:  # nothing listens: constructing still succeeds
        with pytest.raises(DeviceUnavailable):
            signer.get_address()
        with pytest.raises(DeviceUnavailable):  # and again: nothing was cached
            signer.info  # noqa: B018


def test_info_is_asked_once_per_connection_and_stable(rig: Rig) -> None:
    with rig.signer() as signer:
        info = signer.info
        assert signer.get_address() == MASTER_ADDRESS
        assert signer.info is info
        assert info.path == rig.path()
        assert info.model and info.firmware and info.shows_typed_data_fields


def test_address_is_eth_accounts_derivation(rig: Rig) -> None:
    other = Account.from_mnemonic(DEFAULT_MNEMONIC, account_path=OTHER_PATH).address
    with rig.signer() as signer:
        assert signer.get_address() == MASTER_ADDRESS
        assert signer.get_address(OTHER_PATH) == other


def test_approved_typed_data_recovers_to_the_address(rig: Rig) -> None:
    typed_data = grant()
    with rig.signer() as signer, ThreadPoolExecutor(1) as pool:
        pending = signing(pool, signer, typed_data)
        rig.press_yes()
        signature = pending.result(timeout=REVIEW_BOUND)
        address = signer.get_address()
    recovered = Account.recover_message(
        encode_typed_data(full_message=typed_data), signature=signature
    )
    assert recovered == address == MASTER_ADDRESS
    assert signature == eth_account_signature(typed_data)


def test_person_rejecting_is_user_rejected(rig: Rig) -> None:
    with rig.signer() as signer, ThreadPoolExecutor(1) as pool:
        pending = signing(pool, signer, grant())
        rig.press_no()
        with pytest.raises(UserRejected):
            pending.result(timeout=REVIEW_BOUND)
        assert signer.get_address() == MASTER_ADDRESS  # still usable


def test_cancel_during_a_review_is_cancelled_and_frees_the_device(rig: Rig) -> None:
    typed_data = grant()
    with rig.signer() as signer, ThreadPoolExecutor(1) as pool:
        pending = signing(pool, signer, typed_data)
        rig.wait_for_review()
        started = time.monotonic()
        signer.cancel()
        with pytest.raises(Cancelled):
            pending.result(timeout=CANCEL_BOUND)
        assert time.monotonic() - started < CANCEL_BOUND
        rig.after_cancel()
        # The next operation is not cancelled, and the device is free for a new review.
        pending = signing(pool, signer, typed_data)
        rig.press_yes()
        assert pending.result(timeout=REVIEW_BOUND) == eth_account_signature(typed_data)


def test_cancel_while_idle_does_not_abort_the_next_operation(rig: Rig) -> None:
    with rig.signer() as signer:
        signer.cancel()  # before the link is open
        assert signer.get_address() == MASTER_ADDRESS
        signer.cancel()  # between operations
        assert signer.get_address() == MASTER_ADDRESS


def test_unplugged_is_unavailable_and_the_replugged_device_is_picked_up(rig: Rig) -> None:
    with rig.signer() as signer:
        before = signer.info
        rig.unplug()
        with pytest.raises(DeviceUnavailable):
            signer.get_address()
        rig.replug()
        assert signer.get_address() == MASTER_ADDRESS
        after = signer.info
    assert after is not before  # asked again on the new connection
    assert (after.family, after.model, after.path) == (before.family, before.model, before.path)


def test_unplugged_during_a_review_is_seen_and_close_unblocks(rig: Rig) -> None:
    """An unplug ends the pending operation with DeviceUnavailable, or is_alive() turns False
    (UDP never notices by itself) and close() from another thread then ends it."""
    with rig.signer() as signer, ThreadPoolExecutor(1) as pool:
        pending = signing(pool, signer, grant())
        rig.wait_for_review()
        rig.unplug()
        deadline = time.monotonic() + CANCEL_BOUND
        while not pending.done() and signer.is_alive():
            assert time.monotonic() < deadline, "the unplug was neither reported nor seen"
            time.sleep(0.1)
        if not pending.done():
            signer.close()
        with pytest.raises(DeviceUnavailable):
            pending.result(timeout=CANCEL_BOUND)
