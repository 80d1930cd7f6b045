"""A JavaScript reader gets every integer of a reply exact: run with node, the real
JSON.parse, on what the daemon sends (skipped only on a machine without node)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from emulator.keys import MASTER_ADDRESS
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.client import Client
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess
from signerd.rpc import protocol
from tests.support import grant_params, signerd_cli

NONCE = 15340456358815673520

# Reads one reply line on stdin and prints the nonce as JavaScript sees it.
READ_NONCE = """
let data = "";
process.stdin.on("data", (chunk) => (data += chunk));
process.stdin.on("end", () => {
  const reply = JSON.parse(data);
  process.stdout.write(String(reply.result.grant.typedData.message.nonce));
});
"""


def javascript_reads(line: bytes) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "-e", READ_NONCE], input=line, capture_output=True, timeout=30, check=True
    )
    return done.stdout.decode()


def test_javascript_reads_a_big_nonce_exactly() -> None:
    result = {"grant": {"typedData": {"message": {"nonce": NONCE}}}}
    assert javascript_reads(protocol.result_message(1, result)) == str(NONCE)
    # What the same reply would have given as a JSON number: the test can tell the two apart.
    raw = json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}).encode()
    assert javascript_reads(raw) == "15340456358815674000"


def test_the_daemon_sends_the_signed_grant_with_its_nonce_as_a_string(tmp_path: Path) -> None:
    with (
        TrezorSimulatorProcess(auto="approve", log_path=tmp_path / "sim.log") as device,
        DaemonProcess(device.path, tmp_path) as daemon,
    ):
        with Client(daemon.socket_path) as client:
            reply = client.request_grant(**grant_params(nonce=str(NONCE)))
            stored = client.get_grant(reply["grant"]["id"])["grant"]
        # The bytes the daemon sends, as a JavaScript agent reads them off the socket.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(30)
            raw.connect(str(daemon.socket_path))
            request = {"jsonrpc": "2.0", "id": 1, "method": "signerd_getGrant"}
            request["params"] = {"id": stored["id"]}
            raw.sendall(json.dumps(request).encode() + b"\n")
            line = raw.makefile("rb").readline()
        assert javascript_reads(line) == str(NONCE)
    for grant in (reply["grant"], stored):
        assert grant["typedData"]["message"]["nonce"] == str(NONCE)
        assert verify_grant(grant, expected_signer=MASTER_ADDRESS).valid
    path = tmp_path / "grant.json"
    path.write_text(json.dumps(reply["grant"]))
    checked = signerd_cli("verify", str(path), "--signer", MASTER_ADDRESS, "--chain-id", "8453")
    assert checked.returncode == 0, checked.stderr


def test_the_request_id_is_echoed_exactly_and_only_values_become_strings() -> None:
    big = 2**60
    reply = json.loads(protocol.result_message(big, {"n": big, "small": 7}))
    assert reply == {"jsonrpc": "2.0", "id": big, "result": {"n": str(big), "small": 7}}
    note = json.loads(protocol.notification_message("signerd_progress", {"id": big}))
    assert note["params"] == {"id": str(big)}
