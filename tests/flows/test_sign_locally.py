"""`sign_grant_locally`: a device attached to this process signs a grant, no daemon involved."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.keys import MASTER_ADDRESS
from signerd.errors import UserRejected, ValidationError
from signerd.flows.grant import sign_grant_locally
from signerd.grants import verify_grant
from tests.support import grant_params, start_simulator


@pytest.mark.parametrize("family", ["trezor", "ledger"])
def test_the_device_signs_a_verifiable_grant(family: str, tmp_path: Path) -> None:
    lines: list[str] = []
    device = start_simulator(family, tmp_path, auto="approve")
    try:
        grant = sign_grant_locally(device.path, grant_params(), notify=lines.append)
    finally:
        device.stop()
    result = verify_grant(grant, expected_signer=MASTER_ADDRESS)
    assert result.valid, result
    assert grant["typedData"]["message"]["agent"].startswith('"weather-bot" via uid ')
    assert lines[0] == f"The device will show: {grant['typedData']['message']['summary']}"


def test_a_rejection_on_the_device_is_user_rejected(tmp_path: Path) -> None:
    device = start_simulator("trezor", tmp_path, auto="reject")
    try:
        with pytest.raises(UserRejected):
            sign_grant_locally(device.path, grant_params())
    finally:
        device.stop()


def test_a_bad_request_never_reaches_the_device() -> None:
    bad = grant_params()
    bad["allowances"][0]["amount"] = "-5"
    # Nothing listens at this path: reaching the device would raise DeviceUnavailable.
    with pytest.raises(ValidationError) as caught:
        sign_grant_locally("udp:127.0.0.1:9", bad)
    assert caught.value.field == "allowances.0.amount"
