"""Helpers for the hardening tests: raw socket clients, a reply oracle, and /proc readings.

The oracle says, from the JSON-RPC 2.0 specification and RFC 8259 alone (decoded with the
standard library, independently of signerd's parser), what the daemon must answer to a line.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.loopback import socket_inodes
from emulator.trezor.launch import TrezorSimulatorProcess
from signerd.errors import ErrorCode
from signerd.launch import DaemonProcess
from signerd.rpc.protocol import MAX_ID_LENGTH, MAX_MESSAGE_BYTES, MAX_NESTING


@contextmanager
def daemon_on_rejecting_trezor(workdir: Path) -> Iterator[DaemonProcess]:
    """`signerd serve` (a real child process) in `workdir`, on a simulated Trezor that rejects
    every review, so any grant request that passes validation ends quickly."""
    with (
        TrezorSimulatorProcess(auto="reject", log_path=workdir / "trezor-sim.log") as device,
        DaemonProcess(device.path, workdir) as daemon,
    ):
        yield daemon


RESULT = 0  # stands for "a result, not an error" among the allowed outcomes
# Every reply is small whatever the request: error texts are clipped, ids are bounded.
MAX_REPLY_BYTES = 16 * 1024


# What each method may answer to arbitrary params on a daemon whose device rejects everything
# and whose store is empty: never INTERNAL_ERROR.
METHOD_OUTCOMES: dict[str, frozenset[int]] = {
    "signerd_status": frozenset({RESULT, ErrorCode.INVALID_PARAMS}),
    "signerd_listGrants": frozenset({RESULT, ErrorCode.INVALID_PARAMS, ErrorCode.GRANT_NOT_FOUND}),
    "signerd_getGrant": frozenset({ErrorCode.INVALID_PARAMS, ErrorCode.GRANT_NOT_FOUND}),
    "signerd_revokeGrant": frozenset({ErrorCode.INVALID_PARAMS, ErrorCode.GRANT_NOT_FOUND}),
    "signerd_verifyGrant": frozenset({RESULT, ErrorCode.INVALID_PARAMS}),
    "signerd_signPayment": frozenset(
        {ErrorCode.INVALID_PARAMS, ErrorCode.PAYMENT_REFUSED, ErrorCode.GRANT_NOT_FOUND}
    ),
    "signerd_getBudget": frozenset({ErrorCode.INVALID_PARAMS, ErrorCode.GRANT_NOT_FOUND}),
    "signerd_listSpends": frozenset({RESULT, ErrorCode.INVALID_PARAMS}),
    "signerd_requestGrant": frozenset(
        {
            ErrorCode.INVALID_PARAMS,
            ErrorCode.POLICY_REFUSED,
            ErrorCode.REJECTED_ON_DEVICE,
            ErrorCode.TOO_MANY_PENDING,
            ErrorCode.DEVICE_UNAVAILABLE,
            ErrorCode.DEVICE_BUSY,
        }
    ),
}


@dataclass(frozen=True)
class Expected:
    """The outcomes allowed for one line: codes (RESULT for a result) and the reply's id.

    ``reply`` False: nothing may be answered (an empty line, a successful notification);
    None: a reply is optional (a notification, answered only if it fails).
    """

    codes: frozenset[int]
    id: Any = None
    reply: bool | None = True


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, as the decoder recursed into it."""
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    return 0


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def expect_line(line: bytes) -> Expected:
    """What the daemon must answer to ``line`` (sent with a trailing newline).

    Callers keep the number of brackets in ``line`` under a few thousand, so the standard
    library's recursive decoder is safe to run here.
    """
    if len(line) > MAX_MESSAGE_BYTES:
        return Expected(frozenset({ErrorCode.INVALID_REQUEST}))
    stripped = line.strip()
    if not stripped:
        return Expected(frozenset(), reply=False)
    try:
        value = json.loads(stripped.decode("utf-8"), parse_constant=_refuse_constant)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return Expected(frozenset({ErrorCode.PARSE_ERROR}))
    if json_depth(value) > MAX_NESTING:
        return Expected(frozenset({ErrorCode.PARSE_ERROR}))
    return expect_message(value)


def _valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_ID_LENGTH
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def expect_message(message: Any) -> Expected:
    """What the daemon must answer to a decoded JSON value (JSON-RPC 2.0 section 4 and 5)."""
    if not isinstance(message, dict):
        return Expected(frozenset({ErrorCode.INVALID_REQUEST}))
    has_id = "id" in message
    request_id = message.get("id")
    if has_id and not _valid_id(request_id):
        return Expected(frozenset({ErrorCode.INVALID_REQUEST}))
    echo = request_id if has_id else None
    if message.get("jsonrpc") != "2.0":
        return Expected(frozenset({ErrorCode.INVALID_REQUEST}), echo)
    method = message.get("method")
    if not isinstance(method, str) or not method:
        return Expected(frozenset({ErrorCode.INVALID_REQUEST}), echo)
    params = message.get("params", {})
    if params is not None and params != [] and not isinstance(params, dict):
        return Expected(frozenset({ErrorCode.INVALID_PARAMS}), echo)
    if has_lone_surrogate(params):  # text UTF-8 cannot encode: no method ever sees it
        return Expected(frozenset({ErrorCode.INVALID_PARAMS}), echo)
    outcomes = METHOD_OUTCOMES.get(method, frozenset({ErrorCode.METHOD_NOT_FOUND}))
    if not has_id:
        return Expected(outcomes - {RESULT}, None, reply=None)
    return Expected(outcomes, echo)


def has_lone_surrogate(value: Any) -> bool:
    """Whether a key or string anywhere in ``value`` holds an unpaired UTF-16 surrogate."""
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_lone_surrogate(v) for v in value)
    return False


def check_reply(reply: dict[str, Any], expected: Expected) -> None:
    """Assert that ``reply`` is a well-formed JSON-RPC 2.0 reply among the allowed outcomes."""
    assert reply.get("jsonrpc") == "2.0", reply
    assert "id" in reply, reply
    assert reply["id"] == expected.id, (reply, expected)
    if "error" in reply:
        assert "result" not in reply, reply
        error = reply["error"]
        assert isinstance(error.get("message"), str), reply
        assert error["code"] in expected.codes, (reply, expected)
    else:
        assert "result" in reply, reply
        assert RESULT in expected.codes, (reply, expected)


class RawConnection:
    """A client that sends arbitrary bytes and reads replies one line at a time."""

    def __init__(self, path: Path, timeout: float = 20.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """One reply line (b"" when the daemon closed the connection)."""
        line: bytes = self.file.readline(4 * MAX_MESSAGE_BYTES)
        return line

    def read_reply(self) -> dict[str, Any] | None:
        """The next reply, skipping progress notifications; None when the daemon hung up."""
        while True:
            line = self.read_line()
            if not line:
                return None
            assert len(line) <= MAX_REPLY_BYTES, f"reply of {len(line)} bytes"
            message = json.loads(line)
            assert isinstance(message, dict), message
            if "id" in message:
                return message
            assert message.get("method") == "signerd_progress", message

    def call(self, method: str, params: dict[str, Any] | None = None, request_id: Any = 1) -> Any:
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        self.send(json.dumps(message).encode() + b"\n")
        reply = self.read_reply()
        assert reply is not None, "daemon hung up"
        assert reply["id"] == request_id, reply
        return reply

    def exchange(self, line: bytes, wanted: int) -> list[dict[str, Any]]:
        """Send ``line`` then a status call; the replies other than the status call's.

        Reads until the status call is answered and at least ``wanted`` other replies came
        (a request that waits for the device is answered after the status call).
        """
        sentinel = f"sentinel-{uuid.uuid4()}"
        status = {"jsonrpc": "2.0", "id": sentinel, "method": "signerd_status"}
        self.send(line + b"\n" + json.dumps(status).encode() + b"\n")
        replies: list[dict[str, Any]] = []
        answered = False
        while not answered or len(replies) < wanted:
            reply = self.read_reply()
            assert reply is not None, "daemon hung up"
            if reply["id"] == sentinel:
                assert "result" in reply, reply
                answered = True
            else:
                replies.append(reply)
        return replies

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_line(daemon: DaemonProcess, line: bytes, expected: Expected) -> None:
    """Send ``line`` on a fresh connection and assert the reply matches ``expected``."""
    with RawConnection(daemon.socket_path) as conn:
        replies = conn.exchange(line, wanted=1 if expected.reply else 0)
    if expected.reply is False:
        assert replies == [], replies
    elif expected.reply is None:
        assert len(replies) <= 1, replies
        if replies:
            check_reply(replies[0], expected)
    else:
        assert len(replies) == 1, (line[:200], replies)
        check_reply(replies[0], expected)


def proc_status(pid: int, key: str) -> int:
    """A /proc/PID/status figure in kB (VmRSS, VmHWM, ...)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def served_connections(pid: int, socket_path: Path) -> int:
    """How many client connections process ``pid`` holds on ``socket_path`` right now.

    Accepted Unix sockets carry the listening socket's path in /proc/net/unix; the daemon's
    other descriptors (device transports, SQLite files, USB library handles) are not counted.
    """
    inodes = socket_inodes(pid)
    count = 0
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[6] in inodes and fields[7] == str(socket_path):
            count += 1
    return count - 1  # the listening socket itself


def daemon_pid(daemon: DaemonProcess) -> int:
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log()
    return daemon.proc.pid


@contextmanager
def verbose_daemon(device: str, workdir: Path, **kwargs: Any) -> Iterator[DaemonProcess]:
    """`signerd -v -v serve`: debug logging on, to see what it would leak."""
    process = VerboseDaemonProcess(device, workdir, **kwargs)
    with process:
        yield process


class VerboseDaemonProcess(DaemonProcess):
    def command(self) -> list[str]:
        argv = super().command()
        index = argv.index("serve")
        return [*argv[:index], "-v", *argv[index:]]
