"""The launchers' own checks: loopback only, the Speculos bootstrap, its command line."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.keys import DEFAULT_MNEMONIC
from emulator.ledger.speculos_api import is_approval, is_rejection, is_status
from emulator.ledger.speculos_launch import SPECULOS_BOOTSTRAP, SpeculosProcess
from emulator.loopback import LOOPBACK_PATCH, check_loopback, proc_address
from emulator.process import free_port
from tests.support import start_simulator


def test_loopback_check_accepts_a_simulator_and_names_its_ports(tmp_path: Path) -> None:
    device = start_simulator("ledger", tmp_path)
    try:
        assert device.proc is not None
        port = int(device.path.rsplit(":", 1)[1])
        check_loopback(device.proc.pid, {port, port + 1})
        with pytest.raises(RuntimeError, match="not listening on ports"):
            check_loopback(device.proc.pid, {port, port + 1, 1})
    finally:
        device.stop()


def test_speculos_bootstrap_keeps_wildcard_binds_on_loopback() -> None:
    """The patch run before Speculos' main(): its hard-coded 0.0.0.0 binds become 127.0.0.1."""
    probe = (
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.bind(('0.0.0.0', 0))\n"
        "s.listen()\n"
        "print(s.getsockname()[0], s.getsockname()[1], flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", LOOPBACK_PATCH + probe],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        host, port = child.stdout.readline().split()
        try:
            assert host == "127.0.0.1"
            check_loopback(child.pid, {int(port)})
        finally:
            child.stdin.close()


def test_proc_net_addresses_are_decoded() -> None:
    assert proc_address("0100007F:1F90") == ("127.0.0.1", 8080)
    assert proc_address("00000000:270F") == ("0.0.0.0", 9999)
    assert proc_address("00000000000000000000000001000000:1388") == ("::1", 5000)


def test_speculos_command_uses_its_real_options(tmp_path: Path) -> None:
    """The argv matches `speculos --help` of Speculos 0.27 (options checked by hand there)."""
    launcher = SpeculosProcess(tmp_path / "app.elf", model="flex", python="/opt/speculos/python")
    argv = launcher.command()
    assert argv[:3] == ["/opt/speculos/python", "-c", SPECULOS_BOOTSTRAP]
    assert argv[3:] == [
        str(tmp_path / "app.elf"),
        "--model",
        "flex",
        "--seed",
        DEFAULT_MNEMONIC,
        "--display",
        "headless",
        "--apdu-port",
        str(launcher.apdu_port),
        "--api-port",
        str(launcher.api_port),
    ]
    assert launcher.path == f"tcp:127.0.0.1:{launcher.apdu_port}"


def test_the_status_page_after_a_review_is_not_a_review() -> None:
    """The SDK's review status ("Message signed", about 3 s) and the home page are no review;
    "Reject message" and "Sign message" pages are."""
    assert is_status(["Message signed"]) and is_status(["Transaction rejected"])
    assert is_status(["Address verified"])
    assert not is_status(["Sign message"]) and not is_status(["Reject message"])
    assert is_rejection(["Reject message"]) and is_rejection(["Reject transaction"])
    assert is_approval(["Sign message"]) and not is_approval(["Message signed"])


def test_listening_ports_are_never_ones_connect_hands_out() -> None:
    # A client's source port equal to a port nobody listens on yet connects the client to
    # itself (CI once read its own "GET /events" back as the Speculos API's reply).
    low, high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        for _ in range(50):
            base = free_port(kind, count=2)
            assert not low <= base <= high and not low <= base + 1 <= high
