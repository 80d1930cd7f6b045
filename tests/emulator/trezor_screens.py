"""Record what a Trezor shows, screen by screen, through its debug link.

Drives the same operations on the simulated Trezor and on a real trezor-emu-core (signerd's
TrezorSigner signing a grant's typed data, an address shown on the device, a short and a
long personal message) and walks each review the way a person reading every field would:
open every "Show full ...", swipe through every page, confirm. Each page is recorded as
trezorlib's LayoutContent reads it (title, screen_content lines, page count, active page,
main component) with the ButtonRequests the host saw.

`python -m tests.emulator.trezor_screens OUT.json` records a real emulator
($SIGNERD_TREZOR_EMU) into the fixture that test_trezor_screens.py compares the simulator with.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trezorlib import ethereum, messages
from trezorlib.debuglink import DebugLink, LayoutContent
from trezorlib.tools import parse_path

from emulator.keys import DEFAULT_MNEMONIC
from emulator.trezor.launch import (
    HOME_COMPONENT,
    SHOW_MORE_TEXT,
    TrezorEmulatorProcess,
    UdpTrezorProcess,
)
from signerd.devices.trezor import TrezorSigner
from signerd.grants import build_grant_typed_data, parse_grant_request
from signerd.launch import wait_until

# A fixed clock, so the grant's summary ("... until 2026-12-03 10:27 UTC") never changes.
NOW = 1_780_000_000
ACCOUNT = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"  # m/44'/60'/0'/0/0 of DEFAULT_MNEMONIC
PATH = "m/44'/60'/0'/0/0"
SHORT_MESSAGE = b"signerd: unlock the agent keystore"
LONG_MESSAGE = (
    b"signerd asks you to sign this message so that the agent called weather-bot may prove "
    b"who it acts for. It grants nothing by itself: no allowance, no target, no session key. "
    b"Sign it only if you started this request yourself, just now, on this computer."
)
STEP_LIMIT = 120  # a review longer than this is a walker bug, not a long review
WALK_TIMEOUT = 60.0


def grant_typed_data() -> dict[str, Any]:
    """The grant of tests/support.py grant_params, with a fixed session key and clock."""
    request = parse_grant_request(
        {
            "agent": "weather-bot",
            "sessionKey": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
            "chainId": 8453,
            "allowances": [
                {
                    "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "amount": "10000000",
                    "period": 86400,
                }
            ],
            "targets": ["0x1111111254EEB25477B68fb85Ed929f73A960582"],
            "validFor": 3600,
        },
        now=NOW,
    )
    agent = '"weather-bot" via uid 1000 pid 42 exe pytest'
    return build_grant_typed_data(request, account=ACCOUNT, agent=agent, nonce=7)


def page_record(layout: LayoutContent) -> dict[str, Any]:
    """One page as a test compares it."""
    return {
        "component": layout.main_component(),
        "title": layout.title(),
        "lines": layout.screen_content().split("\n"),
        "page_count": layout.page_count(),
        "active_page": layout.active_page(),
        "content": (layout.top_level_value("content") or {}).get("component"),
    }


def _waiting(layout: LayoutContent) -> bool:
    sim = layout.top_level_value("sim")
    if isinstance(sim, dict):
        return bool(sim.get("awaiting_input"))
    return layout.main_component() not in (HOME_COMPONENT, "no main component")


def _sim_index(layout: LayoutContent) -> tuple[int, int] | None:
    sim = layout.top_level_value("sim")
    if isinstance(sim, dict):
        return int(sim["index"]), layout.active_page()
    return None


def walk(link: DebugLink, done: threading.Event) -> list[dict[str, Any]]:
    """Confirm every screen until `done`, opening each "Show full ..." and paging through."""
    pages: list[dict[str, Any]] = []
    last: tuple[int, int] | None = None
    deadline = time.monotonic() + WALK_TIMEOUT
    while not done.is_set():
        if time.monotonic() > deadline or len(pages) > STEP_LIMIT:
            raise TimeoutError(f"walk did not end; pages so far: {pages}")
        layout = link.read_layout(wait=False)
        key = _sim_index(layout)
        if not _waiting(layout) or (key is not None and key == last):
            time.sleep(0.05)
            continue
        last = key
        pages.append(page_record(layout))
        if SHOW_MORE_TEXT in layout.json_str.lower():
            link.press_info() if key is not None else link.click((143, 167))
        elif layout.active_page() < layout.page_count() - 1:
            link.swipe_up()
        else:
            link.press_yes()
        if key is None:
            # The real firmware answers the decision once it is processed; give the next
            # layout (which may need a wire round trip) time to come up.
            time.sleep(0.3)
    return pages


def record_operation(
    device: UdpTrezorProcess, operation: Callable[[TrezorSigner], object]
) -> dict[str, Any]:
    """Run `operation` on a TrezorSigner while walking its review; the pages and requests."""
    signer = TrezorSigner(device.path)
    requests: list[dict[str, Any]] = []
    original = signer._on_button

    def on_button(request: messages.ButtonRequest) -> None:
        code = messages.ButtonRequestType(request.code) if request.code is not None else None
        requests.append(
            {"code": code.name if code else None, "name": request.name, "pages": request.pages}
        )
        original(request)

    signer._on_button = on_button  # type: ignore[method-assign]
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            operation(signer)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name="trezor-screens-op")
    worker.start()
    try:
        with device.debuglink() as link:
            pages = walk(link, done)
    finally:
        worker.join(timeout=WALK_TIMEOUT)
        signer.close()
    if errors:
        raise errors[0]
    return {"button_requests": requests, "pages": pages}


def _show_address(signer: TrezorSigner) -> object:
    address_n = parse_path(PATH)
    return signer._run(lambda s: ethereum.get_address(s, address_n, show_display=True), None)


OPERATIONS: dict[str, Callable[[TrezorSigner], object]] = {
    "sign_typed_data": lambda signer: signer.sign_typed_data(grant_typed_data()),
    "get_address": _show_address,
    "sign_message_short": lambda signer: signer.sign_message(SHORT_MESSAGE),
    "sign_message_long": lambda signer: signer.sign_message(LONG_MESSAGE),
}


def record_all(device: UdpTrezorProcess) -> dict[str, Any]:
    recorded = {}
    for name, op in OPERATIONS.items():
        # The link the last operation closed may still be settling on the device side.
        wait_until(device.is_ready, 10.0, what=f"the {device.name} before {name}")
        recorded[name] = record_operation(device, op)
    return recorded


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    with tempfile.TemporaryDirectory() as tmp:
        emulator = TrezorEmulatorProcess.from_environment(
            Path(tmp) / "profile", mnemonic=DEFAULT_MNEMONIC, log_path=Path(tmp) / "emu.log"
        )
        if emulator is None:
            print("set SIGNERD_TREZOR_EMU to a trezor-emu-core binary", file=sys.stderr)
            return 2
        with emulator:
            recorded = record_all(emulator)
    out.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
