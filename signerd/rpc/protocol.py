"""JSON-RPC 2.0 framing for the socket API: request parsing, replies, error objects.

One JSON message per line. An error is answered with its class's code (signerd.errors), so
the wire codes and the exception classes are one table.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from signerd import errors
from signerd.jsonsafe import js_safe

MAX_MESSAGE_BYTES = 1024 * 1024
MAX_NESTING = 64  # far beyond any valid request; bounds the JSON decoder's recursion
MAX_ID_LENGTH = 256  # a string id is echoed in every reply: keep replies small
MAX_ERROR_TEXT = 300  # error texts may quote the client's input: never echo megabytes back

# A JSON string, closed or running to the end of the text. The possessive repetition and the
# optional closing quote make every match succeed where it starts, so substitution is linear in
# the text's length however the quotes and backslashes are arranged (a backtracking pattern
# took seconds on 40 KB of '\\"' and would take hours on a full-size message).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# What json.loads leaves of a "\ud800" escape without its pair: not a Unicode character, so
# UTF-8 (SQLite, the log, a device's screen) cannot encode it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A line that decoded as strict UTF-8 holds no surrogate itself: one can only come from a
# JSON escape \uD800-\uDFFF. Without such an escape (or an escaped backslash before "ud8"..,
# which this also matches, to be safe) the walk over the parameters is skipped.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class RequestRefused(Exception):
    """A line that is not a valid request: the error to answer, and the id it could read."""

    def __init__(self, error: errors.SignerdError, request_id: int | str | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.request_id = request_id


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_object(exc: errors.SignerdError) -> dict[str, Any]:
    """The JSON-RPC error object of a signerd exception: its class's code, a bounded text."""
    body: dict[str, Any] = {"code": int(exc.code), "message": clip(str(exc))}
    data = exc.data
    if isinstance(exc, errors.ValidationError):
        data = {**(data or {}), "field": clip(exc.field)}
    if data is not None:
        body["data"] = data
    return body


@dataclass(frozen=True)
class Request:
    id: int | str | None  # None: a notification, answered with nothing
    method: str
    params: dict[str, Any]
    is_notification: bool


def _nesting_depth(text: str) -> int:
    """An upper bound of the bracket nesting the JSON decoder can reach in ``text``.

    Brackets inside strings do not count. The running sum of +1/-1 steps equals the decoder's
    depth up to the first unbalanced closing bracket, where the decoder stops with an error.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


# One decoder for every line: json.loads with an option builds a new JSONDecoder per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_json(line: bytes) -> Any:
    """Strict UTF-8 JSON (RFC 8259) with bounded nesting, or ParseError.

    The nesting bound is checked before parsing: eth-account's dependency py_ecc raises the
    interpreter's recursion limit to 100000 on import, at which depth the C JSON decoder
    overflows the C stack and kills the process instead of raising RecursionError.
    NaN and Infinity, which Python's decoder accepts by default, are not JSON and are refused;
    so are integers longer than Python's int conversion limit (a ValueError, not a
    JSONDecodeError).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.ParseError(f"parse error: not UTF-8 ({exc.reason})") from None
    # Fast path: fewer opening brackets than the bound cannot nest deeper than it.
    if text.count("[") + text.count("{") > MAX_NESTING and _nesting_depth(text) > MAX_NESTING:
        raise errors.ParseError(f"parse error: nested deeper than {MAX_NESTING}")
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise errors.ParseError(f"parse error: {exc}") from None


def parse_request(line: bytes) -> Request:
    """Decode one line into a Request; RequestRefused (parse error, invalid request) otherwise."""
    try:
        message = decode_json(line)
    except errors.ParseError as exc:
        raise RequestRefused(exc) from None
    if not isinstance(message, dict):
        raise RequestRefused(errors.InvalidRequest("a request must be a JSON object (no batches)"))
    is_notification = "id" not in message
    request_id = message.get("id")
    if not is_notification and not _is_valid_id(request_id):
        raise RequestRefused(
            errors.InvalidRequest(
                f"id must be null, an integer or a string of at most {MAX_ID_LENGTH} characters"
            )
        )
    try:
        request = _request_from(message, request_id, is_notification)
        if _SURROGATE_ESCAPE.search(line):
            _refuse_lone_surrogates(request.params)
        return request
    except errors.SignerdError as exc:
        raise RequestRefused(exc, request_id) from None


POSITIONAL_PREFIX = "wallet_"
POSITIONAL = "params"  # where a wallet_* method finds its positional params


def _request_from(
    message: dict[str, Any], request_id: int | str | None, is_notification: bool
) -> Request:
    if message.get("jsonrpc") != "2.0":
        raise errors.InvalidRequest('jsonrpc must be "2.0"')
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise errors.InvalidRequest("method must be a non-empty string")
    params = message.get("params", {})
    if params is None:
        params = {}
    if isinstance(params, list) and method.startswith(POSITIONAL_PREFIX):
        # ERC-7715's methods take positional params (an array of requests): the method's
        # params parser reads them under one name.
        params = {POSITIONAL: params}
    if isinstance(params, list):
        if params:
            raise errors.ValidationError("params", "must be an object (named parameters)")
        params = {}
    if not isinstance(params, dict):
        raise errors.ValidationError("params", "must be an object")
    return Request(request_id, method, params, is_notification)


def _refuse_lone_surrogates(params: dict[str, Any]) -> None:
    """ValidationError naming the first key or string value holding an unpaired surrogate.

    Checked once here, so that no method, store write or log line meets one (the nesting is
    already bounded, and the walk is iterative).
    """
    pending: list[tuple[str, Any]] = [("", params)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if _LONE_SURROGATE.search(value):
                raise errors.ValidationError(
                    where.encode("ascii", "backslashreplace").decode(),
                    "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff): not Unicode text",
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}.{key}" if where else key
                pending.append((path, key))
                pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}.{n}", item) for n, item in enumerate(value))


def peek_id(line: bytes) -> int | str | None:
    """Best-effort id of a message that failed validation, so the error can carry it."""
    try:
        message = decode_json(line)
    except errors.ParseError:
        return None
    if isinstance(message, dict):
        request_id = message.get("id")
        if isinstance(request_id, int | str) and _is_valid_id(request_id):
            return request_id
    return None


def _is_valid_id(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_ID_LENGTH
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def encode(message: dict[str, Any]) -> bytes:
    """One line of ASCII JSON; a NaN or infinity in a result is an error, never invalid JSON."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


# Results, error objects and notification params carry integers beyond 2^53 - 1 as decimal
# strings (signerd.jsonsafe says why); the id is echoed exactly as the client sent it.

# A JSON number of 16 digits or more: the only kind that can exceed 2^53 - 1. Seen anywhere
# in the line (inside a string too), the part is encoded again after js_safe: most replies
# have none, and skip the walk over every value.
_MAYBE_BIG_INTEGER: Final = re.compile(rb"[:\[,]-?[0-9]{16}")


def _js_safe_message(envelope: dict[str, Any], key: str, value: Any) -> bytes:
    line = encode({**envelope, key: value})
    if _MAYBE_BIG_INTEGER.search(line) is None:
        return line
    return encode({**envelope, key: js_safe(value)})


def result_message(request_id: int | str | None, result: Any) -> bytes:
    return _js_safe_message({"jsonrpc": "2.0", "id": request_id}, "result", result)


def error_message(request_id: int | str | None, error: errors.SignerdError) -> bytes:
    return _js_safe_message({"jsonrpc": "2.0", "id": request_id}, "error", error_object(error))


def notification_message(method: str, params: dict[str, Any]) -> bytes:
    return _js_safe_message({"jsonrpc": "2.0", "method": method}, "params", params)
