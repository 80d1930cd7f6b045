"""The simulated Model T shows what a real trezor-emu-core (core/v2.12.4, T2T1) shows.

fixtures/trezor_t_screens.json was recorded from the real emulator with
`python -m tests.emulator.trezor_screens` (tests/emulator/trezor_screens.py): every page of a
grant's EIP-712 review with each "Show full ..." opened, an address shown on the device and
two personal messages, as trezorlib's LayoutContent reads them, with the ButtonRequests.
The simulator must give the same pages; with $SIGNERD_TREZOR_EMU set, so must the real one
(which checks that the fixture is still what the firmware shows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.trezor.launch import UdpTrezorProcess
from tests.emulator.trezor_screens import OPERATIONS, record_operation

FIXTURE = Path(__file__).parent / "fixtures" / "trezor_t_screens.json"
RECORDED: dict[str, Any] = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_screens_match_the_real_model_t(model_t: UdpTrezorProcess, operation: str) -> None:
    recorded = record_operation(model_t, OPERATIONS[operation])
    expected = RECORDED[operation]
    assert recorded["button_requests"] == expected["button_requests"]
    # Page by page, so that a failure names the first page that differs.
    for index, (got, want) in enumerate(zip(recorded["pages"], expected["pages"], strict=False)):
        assert got == want, f"page {index} of {operation}"
    assert len(recorded["pages"]) == len(expected["pages"])


def test_fixture_shows_the_known_differences() -> None:
    """What the simulator once got wrong, as the real firmware has it (guards the fixture)."""
    pages = RECORDED["sign_typed_data"]["pages"]
    assert pages[0]["lines"] == ["0x9858effd232b40", "33e47d90003d41ec", "34ecaeda94"]
    domain = [page for page in pages if page["title"] == "EIP712Domain"]
    assert [page["active_page"] for page in domain] == [0, 1]
    assert domain[1]["lines"] == ["version (string):", "2", "chainId (uint256):", "8453"]
    struct = next(page for page in pages if page["content"] == "Dialog")
    assert struct["lines"][-1].endswith("...")
