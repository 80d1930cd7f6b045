"""Property-based tests: whatever a client sends, the real daemon answers it correctly and lives.

Every example goes to the `signerd serve` child process on its own connection. For each line
the oracle in support.py says which JSON-RPC error codes (or a result) are allowed and which id
the reply must carry; INTERNAL_ERROR is never allowed. After each example a bystander client
that stayed connected all along must still be answered, and the process must be alive.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signerd.client import Client
from signerd.errors import ErrorCode
from signerd.launch import DaemonProcess
from signerd.rpc.protocol import MAX_MESSAGE_BYTES, MAX_NESTING
from tests.hardening.support import (
    METHOD_OUTCOMES,
    Expected,
    RawConnection,
    check_line,
    check_reply,
    expect_line,
)
from tests.support import grant_params


def examples(count: int) -> settings:
    """Bounded runs: every example is a round trip to a child process."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


METHODS = [*METHOD_OUTCOMES, "eth_sendTransaction", "signerd_", "Signerd_Status", ""]
PARAM_NAMES = [
    "id",
    "limit",
    "status",
    "before",
    "sessionKey",
    "agent",
    "chainId",
    "allowances",
    "targets",
    "validFor",
    "validAfter",
    "validUntil",
    "nonce",
    "generate",
    "grant",
    "signer",
    "reason",
]

# Text with lone surrogates among ordinary characters: json.dumps escapes them as "\ud800".
TEXT = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=30)
# Decimal digit strings around Python's int conversion limit (4300 digits).
HUGE_DIGITS = st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=1, max_value=4300).map(lambda n: 10**n - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(TEXT | st.sampled_from(PARAM_NAMES), children, max_size=4)
    ),
    max_leaves=15,
)
IDS: st.SearchStrategy[Any] = (
    st.integers()
    | st.sampled_from([0, -1, 2**64, 10**4000, None, "", "0", True, False, 1.0, 1e400, [], {}])
    | st.text(max_size=300)
    | TEXT
)


def healthy(daemon: DaemonProcess, bystander: Client) -> None:
    assert bystander.status()["version"]
    assert daemon.proc is not None and daemon.proc.poll() is None, daemon.log()


def encode(value: Any, ascii_only: bool) -> bytes:
    """JSON text of ``value``; non-ASCII as raw UTF-8 (lone surrogates make it invalid UTF-8)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", "surrogatepass")


@examples(150)
@given(
    line=st.binary(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                b"{",
                b"}",
                b"[",
                b"]",
                b'"',
                b"\\",
                b":",
                b",",
                b" ",
                b"1",
                b"-",
                b"e",
                b".",
                b"null",
                b"true",
                b"NaN",
                b"Infinity",
                b'"jsonrpc"',
                b'"2.0"',
                b'"id"',
                b'"method"',
                b'"params"',
                b'"signerd_status"',
                b"\x00",
                b"\xff",
                b"\xc3\xa9",
                b"\xed\xa0\x80",
                b"\\u",
                b"d800",
                b"\r",
                b"\t",
            ]
        ),
        max_size=80,
    ).map(b"".join)
)
def test_random_bytes(rejecting_daemon: DaemonProcess, bystander: Client, line: bytes) -> None:
    line = line.replace(b"\n", b" ")
    check_line(rejecting_daemon, line, expect_line(line))
    healthy(rejecting_daemon, bystander)


@examples(150)
@given(value=JSON_VALUES, ascii_only=st.booleans())
def test_random_json_values(
    rejecting_daemon: DaemonProcess, bystander: Client, value: Any, ascii_only: bool
) -> None:
    line = encode(value, ascii_only)
    check_line(rejecting_daemon, line, expect_line(line))
    healthy(rejecting_daemon, bystander)


ENVELOPES = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.just("2.0") | st.sampled_from(["2.0", "1.0", "2", 2.0, None]),
        "id": IDS,
        "method": st.sampled_from(METHODS) | TEXT | JSON_VALUES,
        "params": st.dictionaries(st.sampled_from(PARAM_NAMES), JSON_VALUES, max_size=5)
        | JSON_VALUES,
    },
)


@examples(250)
@given(envelope=ENVELOPES, ascii_only=st.booleans())
def test_random_json_rpc_shapes(
    rejecting_daemon: DaemonProcess, bystander: Client, envelope: dict[str, Any], ascii_only: bool
) -> None:
    line = encode(envelope, ascii_only)
    check_line(rejecting_daemon, line, expect_line(line))
    healthy(rejecting_daemon, bystander)


@examples(60)
@given(
    field=st.sampled_from(PARAM_NAMES),
    value=JSON_VALUES,
    request_id=st.integers() | st.text(max_size=20),
)
def test_grant_request_with_one_field_replaced(
    rejecting_daemon: DaemonProcess,
    bystander: Client,
    field: str,
    value: Any,
    request_id: int | str,
) -> None:
    """Near-valid grant requests reach deep into validation: only documented errors come out."""
    params = grant_params()
    params[field] = value
    message = {"jsonrpc": "2.0", "id": request_id, "method": "signerd_requestGrant"}
    line = encode({**message, "params": params}, ascii_only=True)
    check_line(rejecting_daemon, line, expect_line(line))
    healthy(rejecting_daemon, bystander)


NUMBERS = st.one_of(
    HUGE_DIGITS,
    HUGE_DIGITS.map(lambda n: f"-{n}"),
    st.sampled_from(
        [
            "1e400",
            "-1e400",
            "1e-400",
            "1E+999999999",
            "0.0000001",
            "-0",
            "1" * 5000 + ".5",
            "0." + "1" * 5000,
            "1" * 4300,
            "1" * 4301,
            "12345678901234567890.5e300",
        ]
    ),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
NUMBER_SITES = [
    '{"jsonrpc":"2.0","id":%s,"method":"signerd_status"}',
    '{"jsonrpc":"2.0","id":1,"method":"signerd_status","params":{"x":%s}}',
    '{"jsonrpc":"2.0","id":2,"method":"signerd_listGrants","params":{"limit":%s}}',
    '{"jsonrpc":"2.0","id":3,"method":%s}',
    '{"jsonrpc":%s,"id":4,"method":"signerd_status"}',
    "[%s]",
    "%s",
]


@examples(60)
@given(number=NUMBERS, site=st.sampled_from(NUMBER_SITES), grant_site=st.booleans())
def test_huge_numbers(
    rejecting_daemon: DaemonProcess, bystander: Client, number: str, site: str, grant_site: bool
) -> None:
    if grant_site:
        params = grant_params(chainId="NUMBER", validFor="NUMBER")
        message = {"jsonrpc": "2.0", "id": 5, "method": "signerd_requestGrant", "params": params}
        line = json.dumps(message).replace('"NUMBER"', number).encode()
    else:
        line = (site % number).encode()
    expected = expect_line(line)
    check_line(rejecting_daemon, line, expected)
    if len(number.lstrip("-")) > 4300 and "." not in number and "e" not in number.lower():
        # Python refuses int conversion of more than 4300 digits: still a parse error, not a crash.
        assert expected.codes == {ErrorCode.PARSE_ERROR}
    healthy(rejecting_daemon, bystander)


def nested(shape: str, depth: int) -> tuple[bytes, Expected]:
    """A line of the given shape and nesting, and what must be answered (never decoded here)."""
    parse_error = Expected(frozenset({ErrorCode.PARSE_ERROR}))
    invalid_request = Expected(frozenset({ErrorCode.INVALID_REQUEST}))
    deep = depth > MAX_NESTING
    if shape == "arrays":
        text = "[" * depth + "]" * depth
        expected = parse_error if deep else invalid_request
    elif shape == "objects":
        text = '{"a":' * depth + "1" + "}" * depth
        expected = parse_error if deep else invalid_request
    elif shape == "mixed":
        text = '[{"a":' * depth + "null" + "}]" * depth
        expected = parse_error if 2 * depth > MAX_NESTING else invalid_request
    elif shape == "unclosed":
        text = "[" * depth
        expected = parse_error
    elif shape == "closing first":
        text = "]" * depth + "[" * depth
        expected = parse_error
    elif shape == "in params":
        text = (
            '{"jsonrpc":"2.0","id":7,"method":"signerd_status","params":{"x":'
            + "[" * depth
            + "]" * depth
            + "}}"
        )
        ok = Expected(frozenset({ErrorCode.INVALID_PARAMS}), 7)
        expected = parse_error if depth + 2 > MAX_NESTING else ok
    elif shape == "inside a string":
        # Brackets inside strings are not nesting: one array holding one string.
        text = '["' + "[{" * depth + '"]'
        expected = invalid_request
    elif shape == "escaped quotes":
        # Each \" stays inside the string: a scanner that ends the string there would see
        # the brackets as nesting.
        text = '["' + '\\"[' * depth + '"]'
        expected = invalid_request
    elif shape == "escaped backslashes":
        # \\ ends with the string's real closing quote; the brackets after it do nest.
        text = '["\\\\",' * depth + "1" + "]" * depth
        expected = parse_error if deep else invalid_request
    else:  # "unterminated escapes": the backtracking-regex trap, after enough brackets
        text = "[" * (MAX_NESTING + 1) + '"' + '\\"' * depth
        expected = parse_error
    line = text.encode()
    if len(line) > MAX_MESSAGE_BYTES:
        expected = Expected(frozenset({ErrorCode.INVALID_REQUEST}))
    return line, expected


@examples(100)
@given(
    shape=st.sampled_from(
        [
            "arrays",
            "objects",
            "mixed",
            "unclosed",
            "closing first",
            "in params",
            "inside a string",
            "escaped quotes",
            "escaped backslashes",
            "unterminated escapes",
        ]
    ),
    depth=st.integers(min_value=1, max_value=140)
    | st.sampled_from([MAX_NESTING - 2, MAX_NESTING - 1, MAX_NESTING, MAX_NESTING + 1])
    | st.sampled_from([1000, 100_000, 300_000, 600_000]),
)
def test_deep_nesting(
    rejecting_daemon: DaemonProcess, bystander: Client, shape: str, depth: int
) -> None:
    line, expected = nested(shape, depth)
    check_line(rejecting_daemon, line, expected)
    healthy(rejecting_daemon, bystander)


BAD_UTF8 = [
    b"\xff",
    b"\x80",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\xfe",
]
ESCAPES = [
    "\\ud800",
    "\\udfff",
    "\\udc00\\ud800",
    "\\ud83d",
    "\\u0000",
    "a\\u0000b",
    "\\ud800\\u0041",
]
CONTROL = [b"\x00", b"a\x00", b"\x01", b"\x1f"]  # not allowed raw anywhere in JSON text
RAW = [*CONTROL, b"\x7f"]  # DEL is allowed inside strings
TEMPLATES = [
    b'{"jsonrpc":"2.0","id":1,"method":"signerd_%s"}',
    b'{"jsonrpc":"2.0","id":"%s","method":"signerd_status"}',
    b'{"jsonrpc":"2.0","id":2,"method":"signerd_status","params":{"%s":1}}',
    b'{"jsonrpc":"2.0","id":3,"method":"signerd_getGrant","params":{"id":"0x%s"}}',
    b'{"jsonrpc":"2.0","id":4,"method":"signerd_listGrants","params":{"status":"%s"}}',
    b'{"jsonrpc":"2.0","id":5,"method":"signerd_requestGrant","params":{"agent":"bot%s","sessionKey":"0x5B38Da6a701c568545dCfcB03FcB875f56beddC4","chainId":1,"allowances":[],"targets":[],"validFor":60}}',
    b'{"jsonrpc":"2.0","id":6,"method":"signerd_revokeGrant","params":{"id":"0x%s","reason":"x"}}',
    b'%s{"jsonrpc":"2.0","id":7,"method":"signerd_status"}',
]


@examples(120)
@given(
    template=st.sampled_from(TEMPLATES),
    insert=st.sampled_from(BAD_UTF8)
    | st.sampled_from(ESCAPES).map(str.encode)
    | st.sampled_from(RAW)
    | st.lists(st.sampled_from(BAD_UTF8 + RAW), min_size=2, max_size=6).map(b"".join),
)
def test_invalid_utf8_surrogates_and_nul(
    rejecting_daemon: DaemonProcess, bystander: Client, template: bytes, insert: bytes
) -> None:
    line = template.replace(b"%s", insert)
    expected = expect_line(line)
    check_line(rejecting_daemon, line, expected)
    # Fragments of bad UTF-8 can join into a valid sequence: judge the whole line.
    if not is_utf8(line) or any(bad in line for bad in CONTROL):
        assert expected.codes == {ErrorCode.PARSE_ERROR}
    healthy(rejecting_daemon, bystander)


def is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def padded(site: str, size: int, filler: str) -> bytes:
    """A line of exactly ``size`` bytes: ``site`` with its %s filled with ``filler`` characters."""
    empty = (site % "").encode()
    unit = len(filler.encode())
    room = size - len(empty)
    line = (site % (filler * (room // unit) + "a" * (room % unit))).encode()
    assert len(line) == size
    return line


@examples(24)
@given(
    delta=st.sampled_from([-2, -1, 0, 1, 2, 4096]),
    site=st.sampled_from(
        [
            '{"jsonrpc":"2.0","id":1,"method":"signerd_status","params":{"pad":"%s"}}',
            '{"jsonrpc":"2.0","id":2,"method":"%s"}',
            '{"jsonrpc":"2.0","id":"%s","method":"signerd_status"}',
            '{"jsonrpc":"2.0","id":3,"method":"signerd_status","params":{"%s":1}}',
            '{"jsonrpc":"2.0","id":4,"method":"signerd_status"}%s',
            "%s",
        ]
    ),
    filler=st.sampled_from(["a", " ", "é", "€", "😀", "\\ud800", "\\\\"]),
)
def test_messages_around_one_mebibyte(
    rejecting_daemon: DaemonProcess, bystander: Client, delta: int, site: str, filler: str
) -> None:
    """Up to MAX_MESSAGE_BYTES is read and answered; one byte more is refused as oversize.

    Replies stay small even when the request's method name, id or parameter name is 1 MiB:
    error texts are clipped, over-long ids refused (RawConnection checks every reply's size).
    """
    if site.endswith("}%s") and filler not in (" ", "a"):
        filler = " "
    line = padded(site, MAX_MESSAGE_BYTES + delta, filler)
    expected = expect_line(line)
    check_line(rejecting_daemon, line, expected)
    if delta > 0:
        assert expected.codes == {ErrorCode.INVALID_REQUEST}
    healthy(rejecting_daemon, bystander)


def test_oversize_error_then_same_connection_keeps_working(
    rejecting_daemon: DaemonProcess, bystander: Client
) -> None:
    """Several oversize messages in a row, sent in odd-sized pieces, each get one error."""
    with RawConnection(rejecting_daemon.socket_path) as conn:
        for n in range(3):
            body = b"x" * (MAX_MESSAGE_BYTES + 1 + n * 70_001)
            for start in range(0, len(body), 99_991):
                conn.send(body[start : start + 99_991])
            conn.send(b"\n")
            reply = conn.read_reply()
            assert reply is not None
            check_reply(reply, Expected(frozenset({ErrorCode.INVALID_REQUEST})))
            assert "exceeds" in reply["error"]["message"]
            assert conn.call("signerd_status", request_id=n)["result"]["version"]
    healthy(rejecting_daemon, bystander)


KNOWN_HOSTILE: list[tuple[str, bytes, int]] = [
    (
        "a lone surrogate reaching the store (listGrants' sessionKey)",
        b'{"jsonrpc":"2.0","id":1,"method":"signerd_listGrants","params":{"sessionKey":"\\ud800"}}',
        ErrorCode.INVALID_PARAMS,
    ),
    (
        "a lone surrogate in a revocation reason",
        b'{"jsonrpc":"2.0","id":1,"method":"signerd_revokeGrant","params":{"id":"0x'
        + b"1" * 64
        + b'","reason":"\\udfff"}}',
        ErrorCode.INVALID_PARAMS,
    ),
    (
        "a lone surrogate deep in a grant to verify",
        b'{"jsonrpc":"2.0","id":1,"method":"signerd_verifyGrant","params":{"grant":'
        b'{"typedData":{"message":{"summary":"\\ud83d"}}}}}',
        ErrorCode.INVALID_PARAMS,
    ),
    (
        "NaN is not JSON",
        b'{"jsonrpc":"2.0","id":1,"method":"signerd_listGrants","params":{"limit":NaN}}',
        ErrorCode.PARSE_ERROR,
    ),
    ("Infinity is not JSON", b"Infinity", ErrorCode.PARSE_ERROR),
    (
        "-Infinity is not JSON",
        b'{"jsonrpc":"2.0","id":-Infinity,"method":"signerd_status"}',
        ErrorCode.PARSE_ERROR,
    ),
    (
        "int past the conversion limit",
        b'{"jsonrpc":"2.0","id":' + b"7" * 4301 + b',"method":"signerd_status"}',
        ErrorCode.PARSE_ERROR,
    ),
    (
        "1e400 id",
        b'{"jsonrpc":"2.0","id":1e400,"method":"signerd_status"}',
        ErrorCode.INVALID_REQUEST,
    ),
    (
        "1 MiB of escaped quotes after deep brackets",
        b"[" * 65 + b'"' + b'\\"' * (MAX_MESSAGE_BYTES // 2 - 40),
        ErrorCode.PARSE_ERROR,
    ),
    ("100000 brackets", b"[" * 100_000, ErrorCode.PARSE_ERROR),
    (
        "1 MiB id",
        b'{"jsonrpc":"2.0","method":"signerd_status","id":"'
        + b"i" * (MAX_MESSAGE_BYTES - 60)
        + b'"}',
        ErrorCode.INVALID_REQUEST,
    ),
    (
        "1 MiB method",
        b'{"jsonrpc":"2.0","id":1,"method":"' + b"m" * (MAX_MESSAGE_BYTES - 40) + b'"}',
        ErrorCode.METHOD_NOT_FOUND,
    ),
    (
        "1 MiB unknown parameter",
        b'{"jsonrpc":"2.0","id":1,"method":"signerd_status","params":{"'
        + b"\\u20ac" * (MAX_MESSAGE_BYTES // 6 - 20)
        + b'":1}}',
        ErrorCode.INVALID_PARAMS,
    ),
]


def test_known_hostile_lines(rejecting_daemon: DaemonProcess, bystander: Client) -> None:
    """Regressions found by the properties above, checked every run (each reply is small)."""
    for name, line, code in KNOWN_HOSTILE:
        with RawConnection(rejecting_daemon.socket_path) as conn:
            replies = conn.exchange(line, wanted=1)
        assert len(replies) == 1, name
        assert replies[0]["error"]["code"] == code, (name, replies[0])
        healthy(rejecting_daemon, bystander)
