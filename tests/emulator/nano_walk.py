"""Walk a Nano review page by page and record every screen, on the simulator or real Speculos.

The same walk runs on both, so their records compare line for line: the walker presses right
through a review (left and back once on the pages where right leads off the path: the
warning's and the review's reject pages), records the raw texts of each screen (Speculos
keeps the space a line broke at), then approves and records the status page. `python -m tests.emulator.nano_walk` records
the real app's screens into `data/nano_screens.json` when SIGNERD_SPECULOS_ELF is set.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from emulator.keys import MASTER_ADDRESS
from emulator.ledger.speculos_api import (
    MAX_PAGES,
    SpeculosLikeProcess,
    is_approval,
    is_status,
    is_warning,
)
from signerd.devices import open_signer
from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.devices.ledger import pack_bip32
from signerd.grants import agent_description, build_grant_typed_data, parse_grant_request
from signerd.launch import wait_until
from tests.support import grant_params

RECORDED = Path(__file__).parent / "data" / "nano_screens.json"
# Fixed inputs, so that the real app's screens recorded once stay the simulator's target.
SESSION_KEY = "0x10D9515071e10A083E491fb01D967D1a0136D61B"
NOW = 1796289120
SETTLE_SECONDS = 0.15

Screen = list[str]


def grant_typed_data() -> dict[str, Any]:
    """The default grant request's typed data (tests/support.py), with fixed key and time."""
    request = parse_grant_request(grant_params(sessionKey=SESSION_KEY), now=NOW)
    agent = agent_description("contract", 1000, 1, "pytest")
    return build_grant_typed_data(request, account=MASTER_ADDRESS, agent=agent, nonce=1)


def raw_screen(device: SpeculosLikeProcess) -> Screen:
    return [str(event["text"]) for event in device.current_events()]


def settled_screen(device: SpeculosLikeProcess, previous: Screen) -> Screen:
    """The screen after a press, once it differs from `previous` and stops changing."""
    device.next_screen([line.strip() for line in previous])
    screen = raw_screen(device)
    while True:
        time.sleep(SETTLE_SECONDS)
        again = raw_screen(device)
        if again == screen:
            return screen
        screen = again


def _stripped(screen: Screen) -> list[str]:
    return [line.strip() for line in screen]


def walk(device: SpeculosLikeProcess, *, approve: bool = True) -> list[Screen]:
    """Record a review from its first screen to its answer (see the module doc)."""
    device.wait_for_review()
    screen = settled_screen(device, [])
    seen = [screen]

    def press(button: str) -> None:
        nonlocal screen
        device.press(button)
        screen = settled_screen(device, screen)
        seen.append(screen)

    while not is_approval(_stripped(screen)):
        if len(seen) > MAX_PAGES:
            raise RuntimeError(f"no approval page in {MAX_PAGES} screens")
        if is_warning(_stripped(screen)):
            press("right")  # the warning's own reject page
            press("left")
            press("both")
        else:
            press("right")
    press("right")  # the review's reject page
    if approve:
        press("left")
    press("both")  # then the status page, "Message signed" or "Address verified"
    return seen


@contextmanager
def _background(action: Callable[[], object]) -> Iterator[None]:
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(action)
        yield
        future.result(timeout=60)


def walk_grant(device: SpeculosLikeProcess) -> list[Screen]:
    """Sign the default grant through signerd's LedgerSigner, recording the review."""
    with (
        open_signer(device.path) as signer,
        _background(lambda: signer.sign_typed_data(grant_typed_data())),
    ):
        return walk(device)


# Field names too wide for a Nano's title line, one over a single page, one over two.
LONG_NAMES = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}],
        "Note": [
            {"name": "anExceptionallyLongFieldNameHere", "type": "string"},
            {"name": "anotherRatherLongFieldName", "type": "string"},
        ],
    },
    "primaryType": "Note",
    "domain": {"name": "x"},
    "message": {
        "anExceptionallyLongFieldNameHere": "short",
        "anotherRatherLongFieldName": "a value long enough to need a second page on the small screen of a Nano",
    },
}


def walk_long_names(device: SpeculosLikeProcess) -> list[Screen]:
    with (
        open_signer(device.path) as signer,
        _background(lambda: signer.sign_typed_data(LONG_NAMES)),
    ):
        return walk(device)


def _exchange(sock: socket.socket, apdu: bytes) -> int:
    sock.sendall(len(apdu).to_bytes(4, "big") + apdu)
    data = b""
    while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big") + 2:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return int.from_bytes(data[-2:], "big")


def walk_address(device: SpeculosLikeProcess, *, approve: bool = True) -> list[Screen]:
    """GET ETH PUBLIC ADDRESS with P1=01 (show and confirm), recording the review."""
    path = pack_bip32(DEFAULT_DERIVATION_PATH)
    apdu = bytes([0xE0, 0x02, 0x01, 0x00, len(path)]) + path
    with (
        socket.create_connection(("127.0.0.1", device.apdu_port), timeout=60) as sock,
        _background(lambda: _exchange(sock, apdu)),
    ):
        return walk(device, approve=approve)


LOGIN = b"signerd login 1796289120: sign to prove you hold this key"


def walk_personal(device: SpeculosLikeProcess, message: bytes = LOGIN) -> list[Screen]:
    """SIGN ETH PERSONAL MESSAGE (a short login text), recording the review.

    The message goes in APDUs of at most 255 bytes: P1=00 with the path and the length, then
    P1=80; the review starts once the last arrives.
    """
    body = pack_bip32(DEFAULT_DERIVATION_PATH) + len(message).to_bytes(4, "big") + message
    chunks = [body[i : i + 255] for i in range(0, len(body), 255)]
    apdus = [
        bytes([0xE0, 0x08, 0x80 if i else 0x00, 0x00, len(chunk)]) + chunk
        for i, chunk in enumerate(chunks)
    ]
    with socket.create_connection(("127.0.0.1", device.apdu_port), timeout=60) as sock:
        for apdu in apdus[:-1]:
            _exchange(sock, apdu)
        with _background(lambda: _exchange(sock, apdus[-1])):
            return walk(device)


def walk_menu(device: SpeculosLikeProcess, limit: int = 8) -> list[Screen]:
    """The app's menu, from its home page (once a review's status page is gone).

    Right to the last home page and left back; "App settings": right to "Back", both, left
    home; "App info": right to "Back", both, left home.
    """
    wait_until(lambda: not is_status(_stripped(raw_screen(device))), 10, what="the home page")
    screen = settled_screen(device, [])
    seen = [screen]

    def press(button: str) -> bool:
        nonlocal screen
        before = screen
        device.press(button)
        screen = settled_screen(device, screen)
        seen.append(screen)
        return screen != before

    def along(button: str) -> None:
        for _ in range(limit):
            if not press(button):
                return

    along("right")
    along("left")
    for section in (1, 2):  # "App settings", "App info"
        for _ in range(section):
            press("right")
        press("both")
        along("right")
        press("both")
        along("left")
    return seen


WALKS: dict[str, Callable[[SpeculosLikeProcess], list[Screen]]] = {
    "grant": walk_grant,
    "address": walk_address,
    "address-rejected": lambda device: walk_address(device, approve=False),
    "personal": walk_personal,
    "long-names": walk_long_names,
    # Longer than any one APDU: a value over many "Message (k/n)" pages.
    "personal-long": lambda device: walk_personal(device, LOGIN + b" " + b"x-y_z " * 50),
    "menu": walk_menu,
}


def recorded() -> dict[str, list[Screen]]:
    data: dict[str, list[Screen]] = json.loads(RECORDED.read_text())
    return data


def _record() -> None:
    from emulator.ledger.speculos_launch import SpeculosProcess

    device = SpeculosProcess.from_environment()
    if device is None:
        sys.exit("set SIGNERD_SPECULOS_ELF (and _PYTHON, _MODEL) to record the real app")
    with device:
        screens = {name: run(device) for name, run in WALKS.items()}
    if len(sys.argv) > 1:  # only these walks, keeping the others recorded before
        screens = recorded() | {name: screens[name] for name in sys.argv[1:]}
    RECORDED.parent.mkdir(exist_ok=True)
    RECORDED.write_text(json.dumps(screens, indent=1) + "\n")


if __name__ == "__main__":
    _record()
