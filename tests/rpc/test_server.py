"""The daemon's socket server end to end: who may connect, what a line may hold, how many
requests one peer may queue, with a device of every family behind it."""

from __future__ import annotations

import json
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator.process import EmulatorProcess
from signerd.client import Client
from signerd.errors import ErrorCode, SignerdError
from signerd.grants import verify_grant
from signerd.launch import DaemonProcess
from tests.support import REPLY_TIMEOUT, grant_params, request_in_background


def test_unauthorized_peer_is_refused(device: EmulatorProcess, tmp_path: Path) -> None:
    other_uid = os.getuid() + 4242
    config = f"[daemon]\nallowed_uids = [{other_uid}]\n"
    with DaemonProcess(device.path, tmp_path, config=config) as daemon:
        with Client(daemon.socket_path) as client, pytest.raises(SignerdError) as caught:
            client.status()
        assert caught.value.code == ErrorCode.UNAUTHORIZED_PEER
        assert os.stat(daemon.socket_path).st_mode & 0o777 == 0o600
        assert os.stat(daemon.socket_path.parent).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("family", ["trezor"], indirect=True)
def test_malformed_input_gets_errors_and_never_disturbs_others(daemon: DaemonProcess) -> None:
    cases: list[tuple[bytes, int]] = [
        (b"this is not json\n", ErrorCode.PARSE_ERROR),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "signerd_stat\n', ErrorCode.PARSE_ERROR),
        (b"[1, 2, 3]\n", ErrorCode.INVALID_REQUEST),
        (b'{"jsonrpc": "1.0", "id": 2, "method": "signerd_status"}\n', ErrorCode.INVALID_REQUEST),
        (b'{"jsonrpc": "2.0", "id": 3, "method": 7}\n', ErrorCode.INVALID_REQUEST),
        (
            b'{"jsonrpc": "2.0", "id": 4, "method": "eth_sendTransaction"}\n',
            ErrorCode.METHOD_NOT_FOUND,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 5, "method": "signerd_status", "params": 5}\n',
            ErrorCode.INVALID_PARAMS,
        ),
        (
            b'{"jsonrpc": "2.0", "id": 6, "method": "signerd_getGrant", "params": {"id": 5}}\n',
            ErrorCode.INVALID_PARAMS,
        ),
        (
            b'{"jsonrpc":"2.0","id":7,"method":"signerd_requestGrant","params":{"agent":"x","chainId":1,"validFor":60,"allowances":[],"targets":[],"sessionKey":"0x12"}}\n',
            ErrorCode.INVALID_PARAMS,
        ),
        (
            b'{"jsonrpc":"2.0","id":8,"method":"signerd_listGrants","params":{"limit":true}}\n',
            ErrorCode.INVALID_PARAMS,
        ),
        (b"\xff\xfe\xfd invalid utf-8\n", ErrorCode.PARSE_ERROR),
        (b"[" * 100000 + b"\n", ErrorCode.PARSE_ERROR),
    ]
    bystander = Client(daemon.socket_path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(daemon.socket_path))
        reader = sock.makefile("rb")
        for payload, code in cases:
            sock.sendall(payload)
            reply = json.loads(reader.readline())
            assert reply["error"]["code"] == code, (payload[:80], reply)
            assert bystander.status()["version"]
        # The invalid-params error carries the request id and names the field.
        sock.sendall(cases[8][0])
        reply = json.loads(reader.readline())
        assert reply["id"] == 7 and reply["error"]["data"]["field"] == "sessionKey"
        # Over 1 MiB: refused, and the same connection keeps working afterwards.
        sock.sendall(b'{"jsonrpc":"2.0","id":9,"method":"signerd_status","params":{"x":"')
        sock.sendall(b"a" * (1024 * 1024 + 10))
        sock.sendall(b'"}}\n')
        reply = json.loads(reader.readline())
        assert reply["error"]["code"] == ErrorCode.INVALID_REQUEST
        assert "exceeds" in reply["error"]["message"]
        sock.sendall(b'{"jsonrpc":"2.0","id":10,"method":"signerd_status"}\n')
        assert json.loads(reader.readline())["id"] == 10
        # A notification (no id) is executed but never answered, not even an error.
        sock.sendall(b'{"jsonrpc":"2.0","method":"signerd_status"}\n')
        sock.sendall(b'{"jsonrpc":"2.0","method":"no_such_method"}\n')
        sock.sendall(b'{"jsonrpc":"2.0","method":"signerd_getGrant","params":{"id":1}}\n')
        sock.sendall(b'{"jsonrpc":"2.0","id":11,"method":"signerd_status"}\n')
        assert json.loads(reader.readline())["id"] == 11
    assert bystander.status()["version"]
    bystander.close()
    assert daemon.proc is not None and daemon.proc.poll() is None


def test_too_many_pending_requests_from_one_peer(device: EmulatorProcess, tmp_path: Path) -> None:
    config = "[daemon]\nmax_pending_per_peer = 1\n"
    with (
        DaemonProcess(device.path, tmp_path, config=config) as daemon,
        ThreadPoolExecutor(1) as pool,
    ):
        first = request_in_background(daemon, pool, agent="first")
        device.wait_for_review()
        with Client(daemon.socket_path) as client, pytest.raises(SignerdError) as caught:
            client.request_grant(**grant_params(agent="second"))
        assert caught.value.code == ErrorCode.TOO_MANY_PENDING
        device.press_yes()
        assert verify_grant(first.result(timeout=REPLY_TIMEOUT)["grant"]).valid
