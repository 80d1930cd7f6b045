"""The liveness check of a UDP emulator never sends it anything, so it cannot steal the link.

trezor-emu-core answers the sender of the last datagram on its port (sock.c), and so does the
simulated Trezor: a probe from a second socket during an approval would take the signature.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

from emulator.keys import MASTER_ADDRESS
from emulator.process import EmulatorProcess
from signerd.client import Client
from signerd.devices.liveness import udp_port_bound
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess, wait_until
from signerd.worker import LIVENESS_INTERVAL, LIVENESS_MISSES
from tests.support import STATE_TIMEOUT, grant_params, pending


def test_a_bound_port_is_alive_and_a_released_one_is_not() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        assert udp_port_bound("127.0.0.1", port) is True
        assert udp_port_bound("localhost", port) is True
    assert udp_port_bound("127.0.0.1", port) is False
    assert udp_port_bound("192.0.2.7", port) is None  # another machine: cannot tell


def test_an_approval_slower_than_the_liveness_checks_still_arrives(
    daemon: DaemonProcess, device: EmulatorProcess
) -> None:
    with ThreadPoolExecutor(1) as pool, Client(daemon.socket_path) as client:
        future = pool.submit(lambda: client.request_grant(**grant_params()))
        wait_until(lambda: pending(daemon) == 1, STATE_TIMEOUT)
        # Several liveness rounds pass while the person reads the screen.
        time.sleep(LIVENESS_INTERVAL * (LIVENESS_MISSES + 2))
        device.press_yes()
        grant = future.result(timeout=30)["grant"]
    assert verify_grant(grant, expected_signer=MASTER_ADDRESS).valid
