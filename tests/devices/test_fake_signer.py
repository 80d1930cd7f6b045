"""FakeSigner's scripting beyond the Signer contract: what the service and worker tests use."""

from __future__ import annotations

import time

import pytest

from emulator.keys import MASTER_ADDRESS
from signerd.errors import (
    ApprovalTimeout,
    BlindSigningRefused,
    DeviceBusy,
    DeviceLocked,
    DeviceUnavailable,
    UserRejected,
)
from tests.fakes import FakeSigner


def test_scripted_device_states_fail_before_anything_is_asked() -> None:
    fake = FakeSigner(state="busy")
    with pytest.raises(DeviceBusy):
        fake.sign_message(b"hi")
    fake.state = "locked"
    with pytest.raises(DeviceLocked):
        fake.get_address()
    fake.state = "unplugged"
    with pytest.raises(DeviceUnavailable):
        fake.info  # noqa: B018
    assert fake.operations == [] and fake.prompts == 0
    fake.replug()
    assert fake.get_address() == MASTER_ADDRESS
    assert fake.operations == ["get_address"]


def test_answers_delay_and_counted_prompts() -> None:
    fake = FakeSigner(answer="reject")
    with pytest.raises(UserRejected):
        fake.sign_message(b"no")
    fake.answer, fake.delay = "approve", 0.3
    started = time.monotonic()
    lines: list[str] = []
    assert len(fake.sign_message(b"yes", notify=lines.append)) == 65
    assert time.monotonic() - started >= 0.3
    assert lines == ["Confirm on the fake device"]
    assert fake.prompts == 2 and fake.connections == 1


def test_hang_ends_at_the_signers_own_bound() -> None:
    fake = FakeSigner(answer="hang", hang_limit=0.2)
    with pytest.raises(ApprovalTimeout):
        fake.sign_message(b"nobody there")


def test_hash_only_device_refuses_without_blind_signing() -> None:
    typed_data = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}],
            "Note": [{"name": "text", "type": "string"}],
        },
        "primaryType": "Note",
        "domain": {"name": "x"},
        "message": {"text": "hello"},
    }
    fake = FakeSigner(shows_typed_data_fields=False)
    with pytest.raises(BlindSigningRefused):
        fake.sign_typed_data(typed_data)
    assert fake.prompts == 0
    blind = FakeSigner(shows_typed_data_fields=False, allow_blind_signing=True)
    assert len(blind.sign_typed_data(typed_data)) == 65
