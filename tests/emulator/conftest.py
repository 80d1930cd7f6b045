"""Fixtures of the emulator tests: the Model T, simulated and (when configured) real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import TrezorEmulatorProcess, TrezorSimulatorProcess, UdpTrezorProcess
from tests.support import skip_unless_configured


@pytest.fixture(scope="module", params=["trezor", "trezor-emu"])
def model_t(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UdpTrezorProcess]:
    """The simulated Model T, and the real one when configured."""
    family = str(request.param)
    tmp = tmp_path_factory.mktemp(family)
    device: UdpTrezorProcess | None
    if family == "trezor":
        device = TrezorSimulatorProcess(model="t", log_path=tmp / "sim.log")
    else:
        skip_unless_configured(family)
        device = TrezorEmulatorProcess.from_environment(
            tmp / "profile", mnemonic=DEFAULT_MNEMONIC, log_path=tmp / "emu.log"
        )
    assert device is not None
    with device:
        yield device
