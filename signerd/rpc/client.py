"""A small blocking JSON-RPC client for agents written in Python, and for the CLI.

The daemon's errors come back as the same classes the daemon raised (``signerd.errors``):
``except UserRejected`` works on both sides of the socket.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from signerd.config import default_socket_path
from signerd.errors import DaemonUnavailable, SignerdError, UntrustedDaemon, error_from_code
from signerd.rpc.peer import peer_of
from signerd.rpc.protocol import MAX_MESSAGE_BYTES

DAEMON_UID_ENV = "SIGNERD_DAEMON_UID"

Progress = Callable[[str], None]

# How long an interrupted call waits for the daemon to confirm it withdrew the request.
CANCEL_TIMEOUT = 5.0


class Client:
    """One connection to signerd; calls are answered in order."""

    def __init__(
        self,
        socket_path: str | Path | None = None,
        *,
        timeout: float | None = None,
        daemon_uid: int | None = None,
    ):
        """Connect, and check (SO_PEERCRED) that the daemon runs as ``daemon_uid`` before
        anything is sent: default $SIGNERD_DAEMON_UID, else our own uid (UntrustedDaemon)."""
        self.socket_path = Path(socket_path) if socket_path else default_socket_path()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(self.socket_path))
            _check_daemon(self._sock, self.socket_path, daemon_uid)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self._sock.close()
            raise DaemonUnavailable(
                f"no signerd answers on {self.socket_path} ({exc.strerror}); is `signerd "
                "serve` running?"
            ) from exc
        except BaseException:
            self._sock.close()
            raise
        self._file = self._sock.makefile("rb")
        self._ids = itertools.count(1)

    def call(
        self,
        method: str,
        params: dict[str, Any] | list[Any] | None = None,  # a list: wallet_* methods
        *,
        on_progress: Progress | None = None,
    ) -> Any:
        request_id = next(self._ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        try:
            self._sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            # A daemon that refuses the connection (uid, connection cap) says why, then closes.
            self._raise_refusal()
            raise
        try:
            return self._answer(request_id, on_progress)
        except KeyboardInterrupt:
            # Ctrl-C while the person is asked: withdraw the request, so the device does not
            # go on showing a review whose answer nobody waits for.
            self._withdraw(request_id)
            raise

    def _answer(self, request_id: int, on_progress: Progress | None) -> Any:
        """Read until the reply to ``request_id``; relay progress; raise its error."""
        while True:
            reply = self._read_reply()
            if "id" not in reply:  # a notification, e.g. progress of a pending approval
                if on_progress is not None and reply.get("method") == "signerd_progress":
                    on_progress(str(reply.get("params", {}).get("message", "")))
                continue
            if reply["id"] not in (request_id, None):
                continue  # a late reply to an earlier, abandoned call
            if "error" in reply:
                raise _error_of(reply)
            return reply["result"]

    def _withdraw(self, request_id: int) -> None:
        """Cancel a pending request (``signerd_cancelRequest``) and wait, a bounded time, until
        the daemon has answered it; a daemon that does not answer learns it from the close."""
        cancel_id = next(self._ids)
        message = {
            "jsonrpc": "2.0",
            "id": cancel_id,
            "method": "signerd_cancelRequest",
            "params": {"id": request_id},
        }
        self._sock.settimeout(CANCEL_TIMEOUT)
        waiting = {request_id, cancel_id}  # its CANCELLED (or a reply that crossed ours)
        with contextlib.suppress(SignerdError, OSError, ValueError):
            self._sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            while waiting:
                waiting.discard(self._read_reply().get("id"))

    def _read_reply(self) -> dict[str, Any]:
        line = self._file.readline(MAX_MESSAGE_BYTES + 1)
        if not line:
            raise ConnectionError("signerd closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _raise_refusal(self) -> None:
        """Raise the error the daemon sent before closing, if it sent one."""
        try:
            reply = self._read_reply()
        except (OSError, ValueError):
            return
        if "error" in reply:
            raise _error_of(reply)

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("signerd_status")
        return result

    def unlock(self, *, on_progress: Progress | None = None) -> dict[str, Any]:
        """Unlock the daemon's held session keys; blocks until the person confirms on the device."""
        result: dict[str, Any] = self.call("signerd_unlock", {}, on_progress=on_progress)
        return result

    def request_grant(
        self, *, on_progress: Progress | None = None, **params: Any
    ) -> dict[str, Any]:
        """Ask for a grant; blocks until the person answers on the device."""
        result: dict[str, Any] = self.call("signerd_requestGrant", params, on_progress=on_progress)
        return result

    def list_grants(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("signerd_listGrants", params)
        return result

    def get_grant(self, grant_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("signerd_getGrant", {"id": grant_id})
        return result

    def revoke_grant(self, grant_id: str, reason: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"id": grant_id}
        if reason is not None:
            params["reason"] = reason
        result: dict[str, Any] = self.call("signerd_revokeGrant", params)
        return result

    def verify_grant(
        self, grant: dict[str, Any], signer: str | None = None, *, chain_id: int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"grant": grant}
        if signer is not None:
            params["signer"] = signer
        if chain_id is not None:
            params["chainId"] = chain_id
        result: dict[str, Any] = self.call("signerd_verifyGrant", params)
        return result

    def sign_payment(self, grant_id: str, typed_data: dict[str, Any]) -> dict[str, Any]:
        """Have the daemon sign an EIP-3009 authorization within a grant: signature, spend."""
        params = {"grantId": grant_id, "typedData": typed_data}
        result: dict[str, Any] = self.call("signerd_signPayment", params)
        return result

    def get_budget(self, grant_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("signerd_getBudget", {"grantId": grant_id})
        return result

    def list_spends(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("signerd_listSpends", params)
        return result

    def wait_closed(self, timeout: float) -> bool:
        """Wait until the daemon closes this connection (it is stopping); False if it is
        still open after ``timeout`` seconds. Whatever it sends meanwhile is dropped."""
        self._sock.settimeout(timeout)
        try:
            while self._file.readline(MAX_MESSAGE_BYTES + 1):
                pass
        except TimeoutError:
            return False
        except OSError:
            return True  # reset: closed as well
        return True

    def interrupt(self) -> None:
        """Wake a call blocked in another thread (it fails with ConnectionError); the daemon
        sees the connection end and cancels the requests it had pending on it."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def expected_daemon_uid() -> int:
    """The uid the daemon should run as: $SIGNERD_DAEMON_UID (a system daemon), else ours."""
    configured = os.environ.get(DAEMON_UID_ENV, "").strip()
    if not configured:
        return os.getuid()
    if not configured.isdigit():
        raise ValueError(f"{DAEMON_UID_ENV} must be a uid (a number), got {configured!r}")
    return int(configured)


def _check_daemon(sock: socket.socket, path: Path, daemon_uid: int | None) -> None:
    # Whoever could bind the path (a fake daemon) would otherwise receive our requests.
    expected = expected_daemon_uid() if daemon_uid is None else daemon_uid
    actual = peer_of(sock).uid
    if actual != expected:
        raise UntrustedDaemon(
            f"the process serving {path} runs as uid {actual}, not as uid {expected}: it is "
            f"not the signerd you expect, so nothing was sent. If a system daemon runs as "
            f"uid {actual}, set {DAEMON_UID_ENV}={actual}"
        )


def _error_of(reply: dict[str, Any]) -> SignerdError:
    error = reply["error"]
    return error_from_code(error.get("code", 0), str(error.get("message", "")), error.get("data"))
