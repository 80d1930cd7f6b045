"""The examples people copy: the JavaScript socket client against a running daemon (with
node), the payee-side grant check, and the x402 agent's imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account

from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.grants import (
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
)
from signerd.launch import DaemonProcess
from tests.support import TARGET, USDC_BASE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PAYEE = "0x3333333333333333333333333333333333333333"


def test_the_javascript_client_talks_to_the_socket(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    with (
        TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device,
        DaemonProcess(device.path, tmp_path) as daemon,
    ):
        env = dict(os.environ, SIGNERD_SOCKET=str(daemon.socket_path))

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            script = str(EXAMPLES / "socket_client.mjs")
            return subprocess.run(
                [node, script, *args], env=env, capture_output=True, text=True, timeout=30
            )

        status = run()
        assert status.returncode == 0, status.stderr
        result = json.loads(status.stdout)
        assert result["device"]["path"] == device.path and result["version"]
        unknown = run("signerd_nothing")
        assert unknown.returncode == 1
        assert json.loads(unknown.stderr)["error"]["code"] == -32601
        # A directory others may write to: they could swap the socket between the check and
        # the connection, so nothing is sent (the path is the daemon's real socket).
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o777)
        (shared / "signerd.sock").symlink_to(daemon.socket_path)
        env["SIGNERD_SOCKET"] = str(shared / "signerd.sock")
        swappable = run()
        assert swappable.returncode == 1
        assert "writable by group or others" in swappable.stderr


def signed_test_grant(master_key: bytes, payees: list[str]) -> dict[str, object]:
    master = Account.from_key(master_key)
    request = parse_grant_request(
        {
            "agent": "weather-bot",
            "sessionKey": Account.create().address,
            "chainId": 8453,
            "allowances": [{"token": USDC_BASE, "amount": "10000000", "period": 86400}],
            "payees": payees,
            "targets": [TARGET],
            "validFor": 3600,
        },
        now=int(time.time()),
    )
    typed = build_grant_typed_data(
        request,
        account=master.address,
        agent=agent_description("weather-bot", 1000, 1, "x"),
        nonce=2**64,
    )
    signature = bytes(Account.sign_typed_data(master.key, full_message=typed).signature)
    return signed_grant(typed, signature, master.address)


@pytest.mark.parametrize(
    ("payees", "signer_key", "accepted", "as_reply"),
    [
        ([PAYEE], b"\x01" * 32, True, False),
        ([PAYEE], b"\x01" * 32, True, True),
        ([TARGET], b"\x01" * 32, False, False),
        ([PAYEE], b"\x05" * 32, False, False),
    ],
    ids=["accepted", "accepted-from-the-request-reply", "another-payee", "another-signer"],
)
def test_the_payee_check(
    payees: list[str], signer_key: bytes, accepted: bool, as_reply: bool, tmp_path: Path
) -> None:
    grant = tmp_path / "grant.json"
    document = signed_test_grant(b"\x01" * 32, payees)
    # `signerd request > grant.json` writes the daemon's reply: {grant, status}.
    grant.write_text(json.dumps({"grant": document, "status": "active"} if as_reply else document))
    signer = Account.from_key(signer_key).address
    argv = [sys.executable, str(EXAMPLES / "payee_check.py"), str(grant), "--signer", signer]
    argv += ["--chain-id", "8453", "--payee", PAYEE, "--token", USDC_BASE, "--price", "10000"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (done.returncode == 0) is accepted, done.stderr
    assert ("accept grant" in done.stdout) is accepted


def test_the_x402_agent_imports_what_it_uses() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "agent_x402.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--grant" in done.stdout
