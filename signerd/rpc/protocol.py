"""JSON-RPC 2.0 framing for the socket API: stable error codes, request parsing, replies.

One JSON message per line. Codes follow JSON-RPC 2.0 for protocol errors, EIP-1193 where it
has a name for the situation (4001 user rejected, 4100 unauthorized, 4900 disconnected), and
the implementation range -32000..-32099 for the rest. They are part of the API: never renumber.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from signerd import errors

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_NESTING = 64  # far beyond any valid request; bounds the JSON decoder's recursion

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


class ErrorCode(IntEnum):
    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    REJECTED_ON_DEVICE = 4001
    UNAUTHORIZED_PEER = 4100
    DEVICE_UNAVAILABLE = 4900
    APPROVAL_TIMEOUT = -32001
    DEVICE_BUSY = -32002
    DEVICE_LOCKED = -32003
    DEVICE_ERROR = -32004
    BLIND_SIGNING_REFUSED = -32005
    POLICY_REFUSED = -32010
    TOO_MANY_PENDING = -32011
    GRANT_NOT_FOUND = -32020
    GRANT_REVOKED = -32021
    GRANT_EXPIRED = -32022
    CANCELLED = -32030


class RpcError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    def __init__(self, code: ErrorCode, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body


# Most specific classes first: DeviceNotFound is a DeviceUnavailable is a DeviceError.
_ERROR_CODES: tuple[tuple[type[errors.SignerdError], ErrorCode], ...] = (
    (errors.UserRejected, ErrorCode.REJECTED_ON_DEVICE),
    (errors.ApprovalTimeout, ErrorCode.APPROVAL_TIMEOUT),
    (errors.DeviceUnavailable, ErrorCode.DEVICE_UNAVAILABLE),
    (errors.DeviceBusy, ErrorCode.DEVICE_BUSY),
    (errors.DeviceLocked, ErrorCode.DEVICE_LOCKED),
    (errors.BlindSigningRefused, ErrorCode.BLIND_SIGNING_REFUSED),
    (errors.DeviceError, ErrorCode.DEVICE_ERROR),
    (errors.PolicyRefused, ErrorCode.POLICY_REFUSED),
    (errors.TooManyPending, ErrorCode.TOO_MANY_PENDING),
    (errors.GrantNotFound, ErrorCode.GRANT_NOT_FOUND),
    (errors.GrantRevoked, ErrorCode.GRANT_REVOKED),
    (errors.GrantExpired, ErrorCode.GRANT_EXPIRED),
)


def rpc_error_from(exc: errors.SignerdError) -> RpcError:
    """The stable JSON-RPC error for a signerd exception."""
    if isinstance(exc, errors.ValidationError):
        return RpcError(ErrorCode.INVALID_PARAMS, str(exc), {"field": exc.field})
    for cls, code in _ERROR_CODES:
        if isinstance(exc, cls):
            return RpcError(code, str(exc))
    return RpcError(ErrorCode.INTERNAL_ERROR, str(exc))


@dataclass(frozen=True)
class Request:
    id: int | str | None  # None: a notification, answered with nothing
    method: str
    params: dict[str, Any]
    is_notification: bool


def _nesting_depth(text: str) -> int:
    """Deepest bracket nesting outside JSON strings."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def decode_json(line: bytes) -> Any:
    """Strict UTF-8 JSON with bounded nesting, or RpcError(PARSE_ERROR).

    The nesting bound is checked before parsing: eth-account's dependency py_ecc raises the
    interpreter's recursion limit to 100000 on import, at which depth the C JSON decoder
    overflows the C stack and kills the process instead of raising RecursionError.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RpcError(ErrorCode.PARSE_ERROR, f"parse error: not UTF-8 ({exc.reason})") from None
    # Fast path: fewer opening brackets than the bound cannot nest deeper than it.
    if text.count("[") + text.count("{") > MAX_NESTING and _nesting_depth(text) > MAX_NESTING:
        raise RpcError(ErrorCode.PARSE_ERROR, f"parse error: nested deeper than {MAX_NESTING}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RpcError(ErrorCode.PARSE_ERROR, f"parse error: {exc}") from None


def parse_request(line: bytes) -> Request:
    """Decode one line into a Request; RpcError(PARSE_ERROR / INVALID_REQUEST) otherwise."""
    message = decode_json(line)
    if not isinstance(message, dict):
        raise RpcError(ErrorCode.INVALID_REQUEST, "a request must be a JSON object (no batches)")
    is_notification = "id" not in message
    request_id = message.get("id")
    if not is_notification and (
        isinstance(request_id, bool) or not isinstance(request_id, int | str | None)
    ):
        raise RpcError(ErrorCode.INVALID_REQUEST, "id must be a string, an integer or null")
    if message.get("jsonrpc") != "2.0":
        raise RpcError(ErrorCode.INVALID_REQUEST, 'jsonrpc must be "2.0"')
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise RpcError(ErrorCode.INVALID_REQUEST, "method must be a non-empty string")
    params = message.get("params", {})
    if params is None:
        params = {}
    if isinstance(params, list):
        if params:
            raise RpcError(ErrorCode.INVALID_PARAMS, "params must be an object (named parameters)")
        params = {}
    if not isinstance(params, dict):
        raise RpcError(ErrorCode.INVALID_PARAMS, "params must be an object")
    return Request(request_id, method, params, is_notification)


def peek_id(line: bytes) -> int | str | None:
    """Best-effort id of a message that failed validation, so the error can carry it."""
    try:
        message = decode_json(line)
    except RpcError:
        return None
    if isinstance(message, dict):
        request_id = message.get("id")
        if isinstance(request_id, int | str) and not isinstance(request_id, bool):
            return request_id
    return None


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def result_message(request_id: int | str | None, result: Any) -> bytes:
    return encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def error_message(request_id: int | str | None, error: RpcError) -> bytes:
    return encode({"jsonrpc": "2.0", "id": request_id, "error": error.to_json()})


def notification_message(method: str, params: dict[str, Any]) -> bytes:
    return encode({"jsonrpc": "2.0", "method": method, "params": params})
