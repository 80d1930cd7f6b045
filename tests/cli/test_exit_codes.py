"""The real `signerd` command against a daemon and the simulated Trezor: each outcome class
exits with its documented code, Ctrl-C withdraws the request, grant ids work by prefix."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.cli.outcomes import ExitCode
from signerd.launch import DaemonProcess, wait_until
from tests.support import (
    REPLY_TIMEOUT,
    STATE_TIMEOUT,
    USDC_BASE,
    audit_events,
    pending,
    signerd_cli,
)


@pytest.fixture(scope="module")
def trezor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrezorSimulatorProcess]:
    log = tmp_path_factory.mktemp("sim") / "sim.log"
    with TrezorSimulatorProcess(log_path=log) as sim:  # answered by each test
        yield sim


@pytest.fixture
def daemon(trezor: TrezorSimulatorProcess, tmp_path: Path) -> Iterator[DaemonProcess]:
    with DaemonProcess(trezor.path, tmp_path / "daemon") as running:
        yield running


def request_args(daemon: DaemonProcess, agent: str) -> list[str]:
    return [
        "request",
        "--socket",
        str(daemon.socket_path),
        "--agent",
        agent,
        "--session-key",
        "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        "--chain-id",
        "8453",
        "--allow",
        f"{USDC_BASE}:10000000:1d",
    ]


def start_cli(*args: str) -> subprocess.Popen[str]:
    """`signerd ARGS...` running in the background, as a script would start it."""
    return subprocess.Popen(
        [sys.executable, "-m", "signerd.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def on_the_device(daemon: DaemonProcess) -> None:
    wait_until(lambda: pending(daemon) == 1, STATE_TIMEOUT, what="the request on the device")


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=REPLY_TIMEOUT)
    return proc.returncode, out, err


def test_ctrl_c_exits_130_and_cancels_the_request(
    daemon: DaemonProcess, trezor: TrezorSimulatorProcess
) -> None:
    proc = start_cli(*request_args(daemon, "impatient"))
    try:
        on_the_device(daemon)
        proc.send_signal(signal.SIGINT)
        code, out, err = finish(proc)
    finally:
        proc.kill()
    assert code == ExitCode.INTERRUPTED == 130, err
    assert out == "" and "Traceback" not in err and "[CANCELLED -32030]" in err
    assert pending(daemon) == 0
    assert audit_events(daemon.data_dir)[-1] == "cancelled"


def test_rejected_on_the_device(daemon: DaemonProcess, trezor: TrezorSimulatorProcess) -> None:
    proc = start_cli(*request_args(daemon, "refused"), "--json")
    try:
        on_the_device(daemon)
        trezor.press_no()
        code, out, err = finish(proc)
        assert out == ""
    finally:
        proc.kill()
    assert code == ExitCode.REJECTED, err
    error = json.loads(err.splitlines()[-1])["error"]
    assert (error["code"], error["name"]) == (4001, "REJECTED_ON_DEVICE")


def test_not_found_invalid_input_and_prefixes(
    daemon: DaemonProcess, trezor: TrezorSimulatorProcess, tmp_path: Path
) -> None:
    sock = str(daemon.socket_path)
    unknown = signerd_cli("show", "0x" + "ab" * 32, "--socket", sock, "--json")
    assert unknown.returncode == ExitCode.NOT_FOUND, unknown.stderr
    assert json.loads(unknown.stderr)["error"]["name"] == "GRANT_NOT_FOUND"
    assert signerd_cli("revoke", "0xabcd", "--socket", sock).returncode == ExitCode.NOT_FOUND

    bad = tmp_path / "request.json"
    bad.write_text('{"agent": "x",')
    invalid = signerd_cli("request", "--file", str(bad), "--socket", sock)
    assert invalid.returncode == ExitCode.INVALID_INPUT
    assert invalid.stderr.startswith(f"error: {bad}: not JSON: ")
    assert len(invalid.stderr.splitlines()) == 1
    short = signerd_cli("show", "0xab", "--socket", sock)
    assert short.returncode == ExitCode.INVALID_INPUT and "4 to 64 hex digits" in short.stderr

    # The agent comes from the file; the grant is then found by prefix and by agent.
    good = tmp_path / "good.json"
    args = request_args(daemon, "unused")
    good.write_text(
        json.dumps(
            {
                "agent": "from-file",
                "sessionKey": args[args.index("--session-key") + 1],
                "chainId": 8453,
                "allowances": [{"token": USDC_BASE, "amount": "10000000", "period": 86400}],
                "targets": [],
                "validFor": 3600,
            }
        )
    )
    proc = start_cli("request", "--file", str(good), "--socket", sock)
    try:
        on_the_device(daemon)
        trezor.press_yes()
        code, out, err = finish(proc)
    finally:
        proc.kill()
    assert code == ExitCode.OK, err
    grant = json.loads(out)["grant"]
    assert grant["typedData"]["message"]["agent"].startswith('"from-file" via uid ')
    shown = signerd_cli("show", grant["id"][:8], "--socket", sock, "--json")
    assert json.loads(shown.stdout)["id"] == grant["id"]
    listed = signerd_cli("grants", "--agent", "from-file", "--socket", sock).stdout
    assert listed.startswith(grant["id"])
    assert "spent 0  remaining 10000000 of 10000000 per 86400 s  token 0x8335..2913" in listed
    assert signerd_cli("grants", "--agent", "other", "--socket", sock).stdout == "no grants\n"
    # --on-chain on a grant without a delegation: nothing to disable, the grant is revoked.
    revoked = signerd_cli("revoke", grant["id"][2:10], "--socket", sock, "--on-chain")
    assert revoked.returncode == ExitCode.OK, revoked.stderr
    assert revoked.stdout.startswith(f"revoked {grant['id']}")
    assert "no delegation of it on chain" in revoked.stderr
    again = signerd_cli("revoke", grant["id"][:10], "--socket", sock, "--json")
    assert again.returncode == ExitCode.REFUSED
    assert json.loads(again.stderr)["error"]["name"] == "GRANT_REVOKED"


def test_no_daemon_is_unavailable(tmp_path: Path) -> None:
    result = signerd_cli("grants", "--json", "--socket", str(tmp_path / "none.sock"))
    assert result.returncode == ExitCode.UNAVAILABLE
    assert json.loads(result.stderr)["error"]["code"] == -32044


def test_the_emulator_says_its_version() -> None:
    from signerd import __version__

    result = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == f"signerd-emulator, version {__version__}\n"


def test_a_mistyped_device_path_is_invalid_input(tmp_path: Path) -> None:
    """Not DEVICE_UNAVAILABLE (retry later): `serve` would otherwise wait for it forever."""
    for args in (
        ["address", "--device", "bogus"],
        ["serve", "--device", "bogus", "--data-dir", str(tmp_path / "d"), "--socket",
         str(tmp_path / "s.sock")],
    ):  # fmt: skip
        result = signerd_cli(*args)
        assert result.returncode == ExitCode.INVALID_INPUT, (args, result.stderr)
        assert "unknown device path 'bogus'" in result.stderr
