"""decode_json in-process, hard: it agrees with the standard library on every JSON text it
accepts, refuses exactly the texts nested deeper than MAX_NESTING, and never raises anything
but a PARSE_ERROR. This process has py_ecc loaded (through eth-account), so a nesting check
that let a deep text through would crash the test run, as it would crash the daemon.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signerd.errors import ErrorCode, SignerdError
from signerd.rpc.protocol import MAX_MESSAGE_BYTES, MAX_NESTING, decode_json
from tests.hardening.support import json_depth

TRICKY_TEXT = st.text(
    st.sampled_from(['"', "\\", "[", "]", "{", "}", ",", ":", "a", " ", "\u20ac", "\ud800"]),
    max_size=12,
)
LEAVES = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
) | TRICKY_TEXT


def wrap(value: Any, shapes: list[int]) -> Any:
    """``value`` nested once more per entry: 0 in a list, 1 in an object, 2 in both."""
    for shape in shapes:
        if shape == 0:
            value = [value]
        elif shape == 1:
            value = {"k[{": value}
        else:
            value = [{'\\"': value}, "]]"]
    return value


NESTED = st.builds(
    wrap,
    st.recursive(
        LEAVES,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(TRICKY_TEXT, c, max_size=3),
        max_leaves=8,
    ),
    st.lists(st.integers(0, 2), max_size=80),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=NESTED)
def test_depth_bound_is_exact(value: Any) -> None:
    text = json.dumps(value, allow_nan=False)
    depth = json_depth(value)
    if depth > MAX_NESTING:
        with pytest.raises(SignerdError) as caught:
            decode_json(text.encode())
        assert caught.value.code == ErrorCode.PARSE_ERROR
    else:
        assert decode_json(text.encode()) == json.loads(text)


@settings(max_examples=400, deadline=None)
@given(
    line=st.binary(max_size=200)
    | st.lists(
        st.sampled_from([b"[", b"{", b'"', b"\\", b"]", b"}", b"1", b",", b":", b"\xff"]),
        max_size=300,
    ).map(b"".join)
)
def test_only_parse_errors_come_out(line: bytes) -> None:
    try:
        decode_json(line)
    except SignerdError as exc:
        assert exc.code == ErrorCode.PARSE_ERROR


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        '[{"a":' * 50_000,
        "[" * 65 + '"' + '\\"' * (MAX_MESSAGE_BYTES // 2 - 40),
        "[" * 65 + '"' + '\\"' * (MAX_MESSAGE_BYTES // 2 - 40) + "\\",
        '["\\\\",' * 100_000,
        "[" * (MAX_MESSAGE_BYTES - 1) + "]",
    ],
    ids=[
        "arrays",
        "objects",
        "mixed",
        "unterminated-escapes",
        "trailing-backslash",
        "escaped-backslashes",
        "1MiB-brackets",
    ],
)
def test_deep_and_adversarial_texts_are_refused(text: str) -> None:
    with pytest.raises(SignerdError) as caught:
        decode_json(text.encode())
    assert caught.value.code == ErrorCode.PARSE_ERROR


def test_brackets_inside_strings_do_not_count() -> None:
    text = '["' + "[{" * 200_000 + '", "\\"' + "[" * 1000 + '"]'
    assert decode_json(text.encode()) == json.loads(text)
