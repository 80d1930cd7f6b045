"""The shortest approval path shows the whole summary, on every simulated device model.

A person can approve a grant with the fewest presses the device allows: on a Trezor, confirm
the signing address, the domain, "Confirm message" without opening it, and hold; on a Stax/Flex,
"Skip" on the first page of pairs. Each path is walked on the simulator, and the screens seen
must contain the grant's whole summary (whitespace normalised: devices wrap and chunk text)
and the signature must recover to the master address.

A Ledger Nano with "Raw messages" is the exception the app imposes: its first pair is
"Review struct / EIP712Domain" (commands_712.c, P2_IMPL_NAME in verbose mode) and the SDK
offers "press both to skip" before every later pair (nbgl_use_case_nanos.c
displayReviewPage), so a person can skip before any value of ours is drawn. The path that
reads the first field (the domain's name, the summary) and then skips shows it; the
absolutely shortest one shows no value at all, which a test states as the device's limit.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from emulator.keys import MASTER_ADDRESS
from emulator.ledger.launch import LedgerSimulatorProcess
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.devices.base import Signer
from signerd.devices.ledger import LedgerSigner
from signerd.devices.trezor import TrezorSigner
from signerd.grants import build_grant_typed_data, grant_digest, parse_grant_request, recover_signer
from tests.support import NOW_SECONDS, SESSION, daily_usdc, grant_params, some_eth

AGENT = '"weather-bot" via uid 1000 pid 42 exe python3'


def grant() -> dict[str, Any]:
    params = grant_params(sessionKey=SESSION, allowances=[daily_usdc(), some_eth()])
    request = parse_grant_request(params, now=NOW_SECONDS)
    return build_grant_typed_data(request, account=MASTER_ADDRESS, agent=AGENT, nonce=7)


def normalised(text: str) -> str:
    return " ".join(text.split())


def sign_by_shortest_path(
    signer: Signer, walk: Callable[[], list[str]], typed_data: dict[str, Any]
) -> tuple[list[str], bytes]:
    """(screens seen, signature): the signer waits on the device while `walk` approves."""
    with signer, ThreadPoolExecutor(1) as pool:
        pending = pool.submit(signer.sign_typed_data, typed_data)
        screens = walk()
        return screens, pending.result(timeout=60)


def assert_summary_shown(
    screens: list[str], typed_data: dict[str, Any], signature: bytes, *, seen: bool = False
) -> None:
    """The summary on the screens (unless the caller checked it: `seen`), the signer right."""
    summary = typed_data["message"]["summary"]
    assert summary == typed_data["domain"]["name"]
    if not seen:
        assert normalised(summary) in normalised("\n".join(screens))
    assert recover_signer(grant_digest(typed_data), signature) == MASTER_ADDRESS


@pytest.mark.parametrize("model", ["t", "safe3", "safe5"])
def test_trezor_shortest_path_shows_the_summary(tmp_path: Path, model: str) -> None:
    device = TrezorSimulatorProcess(model=model, log_path=tmp_path / "trezor.log").start()
    try:
        typed_data = grant()

        def walk() -> list[str]:
            return [
                "\n".join(filter(None, [layout.title(), layout.screen_content()]))
                for layout in device.press_shortest()
            ]

        screens, signature = sign_by_shortest_path(TrezorSigner(device.path), walk, typed_data)
    finally:
        device.stop()
    titles = [screen.splitlines()[0] for screen in screens]
    assert titles[0] == "Signing address" and titles[-2:] == [
        "Confirm message",
        "Confirm typed data",
    ]
    assert set(titles[1:-2]) == {"EIP712Domain"}  # a Model T pages the domain
    # The Model T breaks a value anywhere, dropping the space it broke at, and marks a page
    # break with "..." at the end of one page and the start of the next.
    contents = "\n".join(screen.split("\n", 1)[-1] for screen in screens)
    seen = "".join(contents.split()).replace("......", "")
    assert "".join(typed_data["message"]["summary"].split()) in seen
    assert_summary_shown(screens if model != "t" else [], typed_data, signature, seen=model == "t")


def ledger_walk(
    tmp_path: Path, model: str, skip_at: int
) -> tuple[list[str], bytes, dict[str, Any], bool]:
    """(screens, signature, typed data, whether the device showed the summary): a Nano
    splits the summary over "name (1/2)", "name (2/2)" pages, which `shows` reads back."""
    device = LedgerSimulatorProcess(model=model, log_path=tmp_path / "ledger.log").start()
    try:
        if model.startswith("nano"):
            device.set_settings(raw_messages=True)
        typed_data = grant()

        def walk() -> list[str]:
            return ["\n".join(lines) for lines in device.press_shortest(skip_at=skip_at)]

        screens, signature = sign_by_shortest_path(
            LedgerSigner(f"{device.path}?model={model}"), walk, typed_data
        )
        shown = device.shows(typed_data["message"]["summary"])
    finally:
        device.stop()
    return screens, signature, typed_data, shown


@pytest.mark.parametrize("model", ["nanosp", "nanox", "stax", "flex"])
def test_ledger_shortest_path_shows_the_summary(tmp_path: Path, model: str) -> None:
    # Nano: skip after the first field; Stax/Flex: at the first "Skip".
    skip_at = 2 if model.startswith("nano") else 1
    screens, signature, typed_data, shown = ledger_walk(tmp_path, model, skip_at)
    if model.startswith("nano"):
        # Warning, title, "Review struct", skip page, the domain's name (the summary, over two
        # pages), skip page (both), "Sign message" (both): every field after it is skipped.
        assert len(screens) == 8
        assert screens[0] == "Blind signing ahead\nTo accept risk, press\nboth buttons"
        assert screens[2] == "Review struct\nEIP712Domain"
        assert screens[4].startswith("name (1/2)\n")
        assert screens[5].startswith("name (2/2)\n")
    else:
        # Title, the first page of pairs ("Skip"), "Sign typed message?".
        assert len(screens) == 3
        assert screens[1].startswith("Skip\nReview struct\nEIP712Domain\nname\n")
        assert_summary_shown(screens, typed_data, signature)
    assert screens[-1] in ("Sign message", "Sign typed message?")
    assert shown
    assert recover_signer(grant_digest(typed_data), signature) == MASTER_ADDRESS


def test_nano_can_skip_before_the_summary(tmp_path: Path) -> None:
    """The Nano's limit, not signerd's: the first skip page comes before any value."""
    screens, signature, typed_data, shown = ledger_walk(tmp_path, "nanosp", skip_at=1)
    assert not shown
    assert screens == [
        "Blind signing ahead\nTo accept risk, press\nboth buttons",
        "Review typed\nmessage",
        "Review struct\nEIP712Domain",
        "Press right button to\ncontinue message or\npress both to skip",
        "Sign message",
    ]
    assert normalised(typed_data["message"]["summary"]) not in normalised("\n".join(screens))
    assert recover_signer(grant_digest(typed_data), signature) == MASTER_ADDRESS
