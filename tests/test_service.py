"""signerd as a service: socket activation (systemd's LISTEN_FDS protocol, without systemd),
`signerd stop`, the `SIGNERD_SOCKET=...; export SIGNERD_SOCKET;` line, $SIGNERD_SOCKET in
every client, and the user units `signerd install-service` writes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.cli.outcomes import ExitCode
from signerd.client import Client
from signerd.errors import UnauthorizedPeer
from signerd.launch import DaemonProcess, python_module, wait_until
from signerd.service import PACKAGED_EXECUTABLE, render_units
from tests.support import STATE_TIMEOUT, signerd_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trezor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrezorSimulatorProcess]:
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    with TrezorSimulatorProcess(auto="approve", log_path=log) as device:
        yield device


def listening_socket(path: Path) -> socket.socket:
    """What systemd does for signerd.socket: the directory 0700, the socket listening, 0600."""
    path.parent.mkdir(mode=0o700, parents=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(16)
    return sock


def activated(argv: list[str], fd: int) -> list[str]:
    """argv run as systemd runs a socket-activated service: the socket moved to fd 3
    (SD_LISTEN_FDS_START), LISTEN_FDS=1, and LISTEN_PID the daemon's own pid, which an exec
    keeps (a shell's `3<&N` takes only one-digit fds in dash)."""
    launcher = (
        "import os, sys\n"
        f"os.dup2({fd}, 3, inheritable=True)\n"
        f"os.close({fd})\n"
        "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n"
    )
    return [sys.executable, "-c", launcher, *argv]


def test_socket_activation_serves_the_passed_socket_and_stop_ends_it(
    trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    path = tmp_path / "run" / "signerd.sock"
    listener = listening_socket(path)
    fd = listener.fileno()
    serve = python_module(
        "signerd.cli", "serve", "--device", trezor.path, "--data-dir", str(tmp_path / "data")
    )
    log = (tmp_path / "signerd.log").open("wb")
    daemon = subprocess.Popen(activated(serve, fd), pass_fds=(fd,), stdout=log, stderr=log)
    listener.close()  # the daemon holds it now, as systemd would
    try:
        # A connection made before the daemon is up waits in the backlog: no polling needed.
        with Client(path, timeout=STATE_TIMEOUT) as client:
            assert client.status()["device"]["path"] == trezor.path
            account = wait_until(
                lambda: client.status()["account"], STATE_TIMEOUT, what="the device's account"
            )
        assert account == MASTER_ADDRESS

        stopped = signerd_cli("stop", "--socket", str(path))
        assert stopped.returncode == 0, stopped.stderr
        assert daemon.wait(timeout=STATE_TIMEOUT) == 0
        # The socket is the launcher's: it stays, so systemd can start the daemon again.
        assert path.exists()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
    text = (tmp_path / "signerd.log").read_text()
    assert "socket activation" in text
    assert f"SIGNERD_SOCKET={path}; export SIGNERD_SOCKET;" in text


def test_a_passed_socket_in_a_directory_others_may_write_is_refused(
    trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    path = tmp_path / "run" / "signerd.sock"
    listener = listening_socket(path)
    os.chmod(path.parent, 0o777)
    fd = listener.fileno()
    serve = python_module("signerd.cli", "serve", "--device", trezor.path)
    try:
        done = subprocess.run(
            activated(serve, fd), pass_fds=(fd,), capture_output=True, text=True, timeout=60
        )
    finally:
        listener.close()
    assert done.returncode != 0
    assert "UNSAFE_PATH" in done.stderr and "writable by group or others" in done.stderr


def test_stop_is_for_admins_then_stops_cleanly(
    trezor: TrezorSimulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Served, but not an admin: may not stop the daemon every other agent relies on.
    config = f"[daemon]\nadmin_uids = [{os.getuid() + 4242}]\n"
    with DaemonProcess(trezor.path, tmp_path / "a", config=config) as daemon:
        refused = signerd_cli("stop", "--socket", str(daemon.socket_path))
        assert refused.returncode == ExitCode.UNTRUSTED
        assert "UNAUTHORIZED_PEER" in refused.stderr
        with Client(daemon.socket_path) as client, pytest.raises(UnauthorizedPeer):
            client.call("signerd_shutdown")
        assert daemon.proc is not None and daemon.proc.poll() is None

    with DaemonProcess(trezor.path, tmp_path / "b") as daemon:
        # Every client finds the daemon through $SIGNERD_SOCKET: the CLI, and Client().
        monkeypatch.setenv("SIGNERD_SOCKET", str(daemon.socket_path))
        with Client() as client:
            assert client.status()["device"]["path"] == trezor.path
        stopped = signerd_cli("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not daemon.socket_path.exists()
        assert daemon.proc is not None and daemon.proc.wait(timeout=STATE_TIMEOUT) == 0
        assert f"SIGNERD_SOCKET={daemon.socket_path}; export SIGNERD_SOCKET;" in daemon.log()
    again = signerd_cli("stop", "--socket", str(daemon.socket_path))
    assert again.returncode == ExitCode.UNAVAILABLE and "DAEMON_UNAVAILABLE" in again.stderr


def test_the_shipped_units_are_the_rendered_ones() -> None:
    for name, text in render_units([PACKAGED_EXECUTABLE]).items():
        assert (REPO / "systemd" / name).read_text() == text, f"regenerate systemd/{name}"


def test_install_service_writes_user_units(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    units = tmp_path / "systemd" / "user"

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        argv = python_module("signerd.cli", "install-service", *args)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)

    dry = install("--device", "trezor:usb", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "ListenStream=%t/signerd/signerd.sock" in dry.stdout and not units.exists()

    done = install("--device", "trezor:usb")
    assert done.returncode == 0, done.stderr
    service = (units / "signerd.service").read_text()
    assert 'Environment="SIGNERD_DEVICE=trezor:usb"' in service
    assert (units / "signerd.socket").read_text() == render_units(["x"])["signerd.socket"]
    assert "systemctl --user enable --now signerd.socket" in done.stdout

    other = install("--device", "ledger:hid")
    assert other.returncode == 1 and "--force" in other.stderr
    assert install("--device", "ledger:hid", "--force").returncode == 0
    assert "SIGNERD_DEVICE=ledger:hid" in (units / "signerd.service").read_text()
    # No device, no config: a service that cannot start.
    assert install().returncode == ExitCode.INVALID_INPUT
    as_json = json.loads(install("--device", "trezor:usb", "--dry-run", "--json").stdout)
    assert as_json["written"] is False and str(units / "signerd.socket") in as_json["units"]


def test_the_service_runs_this_signerd() -> None:
    service = render_units([sys.executable, "-m", "signerd.cli"])["signerd.service"]
    assert f"ExecStart={sys.executable} -m signerd.cli serve\n" in service
