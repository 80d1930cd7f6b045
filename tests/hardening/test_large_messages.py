"""The server-wide budget for large messages: a crowd streaming big lines is bounded."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack

from signerd.client import Client
from signerd.errors import ErrorCode
from signerd.launch import DaemonProcess
from signerd.rpc.server import LARGE_MESSAGE_BYTES, MAX_LARGE_MESSAGES


def connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def replies(sock: socket.socket) -> Iterator[dict[str, object]]:
    for line in sock.makefile("rb"):
        yield json.loads(line)


def test_only_a_few_large_messages_at_once(
    rejecting_daemon: DaemonProcess, bystander: Client
) -> None:
    path = str(rejecting_daemon.socket_path)
    head = b'{"jsonrpc":"2.0","id":1,"method":"signerd_status","params":{"pad":"'
    big = head + b"x" * (2 * LARGE_MESSAGE_BYTES)  # a large line, not finished yet
    with ExitStack() as stack:
        holders = [stack.enter_context(connect(path)) for _ in range(MAX_LARGE_MESSAGES)]
        for sock in holders:
            sock.sendall(big)
        bystander.status()  # a round trip through the event loop: the holders are all in
        late = stack.enter_context(connect(path))
        late.sendall(big)
        refusal = next(replies(late))
        error = refusal["error"]
        assert isinstance(error, dict) and error["code"] == ErrorCode.INVALID_REQUEST
        assert "too many messages over" in str(error["message"])
        # Small messages are never held back by the budget.
        late.sendall(b'"}}\n{"jsonrpc":"2.0","id":2,"method":"signerd_status"}\n')
        answer = next(replies(late))
        assert answer["id"] == 2 and "result" in answer
        # A holder that finishes its line is answered (status refuses the unknown param)
        # and gives its place back: the late client's next large message gets through.
        holders[0].sendall(b'"}}\n')
        first = next(replies(holders[0]))
        assert first["id"] == 1
        assert first["error"]["code"] == ErrorCode.INVALID_PARAMS  # type: ignore[index]
        late.sendall(big + b'"}}\n')
        retried = next(replies(late))
        assert retried["id"] == 1
        assert retried["error"]["code"] == ErrorCode.INVALID_PARAMS  # type: ignore[index]
    assert bystander.status()["version"]
