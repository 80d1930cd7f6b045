"""The Nano screens of a review, page by page, against those recorded from the real app.

`data/nano_screens.json` holds the screens the real Ethereum app 1.22.0 showed under Speculos
on a Nano S Plus (recorded with `python -m tests.emulator.nano_walk`): the default grant's
review (warning, its reject page, every field with long values split over "name (k/n)" pages
and wrapped by pixel width, the skip pages, "Sign message", "Reject message", the status
page), an address verification approved and rejected, a short and a six-page personal
message, field names too long for a title line, and the app's menu (home pages, every
settings switch, the infos, where "Back" returns). The simulator must show the same lines; with SIGNERD_SPECULOS_ELF set the same
walk runs on the real Speculos too, so the recording can be checked against a fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.ledger.menu import HOME_LINES
from emulator.ledger.review import ADDRESS_STATUS
from emulator.ledger.screen import Page, Screen
from emulator.ledger.speculos_api import SpeculosLikeProcess
from emulator.ledger.speculos_launch import SpeculosProcess
from tests.emulator.nano_walk import WALKS, recorded
from tests.support import skip_unless_configured


@pytest.fixture(scope="module", params=["ledger", "speculos"])
def nano(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SpeculosLikeProcess]:
    """A Nano S Plus with "Raw messages" on: the simulator, or the real app when configured."""
    family = str(request.param)
    log = Path(tmp_path_factory.mktemp("nano")) / f"{family}.log"
    device: SpeculosLikeProcess | None
    if family == "ledger":
        simulator = LedgerSimulatorProcess(model="nanosp", log_path=log).start()
        simulator.set_settings(raw_messages=True)
        device = simulator
    else:
        skip_unless_configured(family)
        device = SpeculosProcess.from_environment(log_path=log)
        assert device is not None
        device.start()
    try:
        yield device
    finally:
        device.stop()


@pytest.mark.parametrize("flow", sorted(WALKS))
def test_screens_match_the_real_app(nano: SpeculosLikeProcess, flow: str) -> None:
    screens = WALKS[flow](nano)
    expected = recorded()[flow]
    assert len(screens) == len(expected)
    for index, (shown, real) in enumerate(zip(screens, expected, strict=True)):
        assert shown == real, f"screen {index} of the {flow} review"


def test_recording_has_paged_and_wrapped_values() -> None:
    """The recording itself is what the issue is about: a value over two pages, a skip text
    over three lines, an address cut inside the word."""
    grant = recorded()["grant"]
    assert ["summary (2/2)", "12-03 10:12 UTC"] in grant
    assert ["Press right button to ", "continue message or ", "press both to skip"] in grant
    assert recorded()["address"][1] == [
        "Address",
        "0x9858EfFD232B4033",
        "E47d90003D41EC34E",
        "caEda94",
    ]


def test_status_page_leaves_on_any_button() -> None:
    """nbgl_useCaseStatus on a Nano: any button dismisses it, back to the home page."""
    screen = Screen()
    pages = [Page(("Confirm",), "approve"), Page(("Cancel",), "reject", last=True)]
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(screen.review, pages, ADDRESS_STATUS)
        while not screen.reviewing:
            time.sleep(0.01)
        screen.press("right")
        screen.press("both")
        assert answer.result(timeout=10) is False
    assert screen.current_lines == ("Address verification ", "cancelled")
    screen.press("left")
    assert screen.current_lines == HOME_LINES
