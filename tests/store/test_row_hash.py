"""The hashed texts written piece by piece are byte for byte their definitions: a row's hash
is sha256 of canonical_json of its values (signerd/store/rows.py), an audit entry's body is
canonical_json of its fields (signerd/store/chain.py)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.store.chain import _body_text, audit_hash
from signerd.store.rows import (
    DELEGATION_COLUMNS,
    GRANT_COLUMNS,
    SPEND_COLUMNS,
    _slow_row_hash,
    row_hash,
)
from signerd.store.values import canonical_json

REAL = {"created_at", "revoked_at", "settled_at", "disabled_at"}
# What SQLite hands back (and what the writers pass): text, integers, floats, NULL. Text with
# quotes, backslashes, control and non-ASCII characters (escaped by json), huge integers.
values = (
    st.text()
    | st.sampled_from(['"', "\\", "\x00\x1f\x7f", "é€😀", "\u2028", '{"a":[1,"b"]}'])
    | st.integers()
    | st.sampled_from([0, -1, 2**63 - 1, 2**256, -(2**300)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.none()
)
reals = st.none() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)


def rows(columns: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {column: reals if column in REAL else values for column in columns}
    )


@settings(max_examples=400, deadline=None)
@given(rows(GRANT_COLUMNS))
def test_grant_row_hash_is_the_canonical_json_hash(row: dict[str, Any]) -> None:
    assert row_hash("grants", row) == _slow_row_hash("grants", row)


@settings(max_examples=400, deadline=None)
@given(rows(SPEND_COLUMNS))
def test_spend_row_hash_is_the_canonical_json_hash(row: dict[str, Any]) -> None:
    assert row_hash("spends", row) == _slow_row_hash("spends", row)


@settings(max_examples=200, deadline=None)
@given(rows(DELEGATION_COLUMNS))
def test_delegation_row_hash_is_the_canonical_json_hash(row: dict[str, Any]) -> None:
    assert row_hash("delegations", row) == _slow_row_hash("delegations", row)


def grant_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(GRANT_COLUMNS, "x")
    row.update(created_at=1.5, revoked_at=None, peer_uid=1000, chain_id=8453)
    row.update(changes)
    return row


def test_a_known_row_hashes_to_its_recorded_value() -> None:
    """Pinned: rows sealed by earlier signerd versions must keep verifying."""
    row = grant_row(document='{"id":"0x01"}', created_at=1_750_000_000, revoke_reason="é")
    expected = "e529a31415ad4945d2ab51752589c40cf24cebf986b7dbdde28d6850971617de"
    assert row_hash("grants", row) == expected
    assert _slow_row_hash("grants", row) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"created_at": 1_750_000_000},  # an integer in a REAL column is hashed as a float
        {"peer_uid": True},  # not a SQLite type: the definition decides
        {"chain_id": 1.0},  # a float where an integer belongs (an edited file)
        {"revoked_at": "1750000000.5"},  # text in a REAL column, as float() reads it
    ],
)
def test_unusual_values_hash_as_the_definition(changes: dict[str, Any]) -> None:
    row = grant_row(**changes)
    assert row_hash("grants", row) == _slow_row_hash("grants", row)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"created_at": math.nan}, ValueError),
        ({"chain_id": math.inf}, ValueError),
        ({"device": b"\x00"}, TypeError),
        ({"revoked_at": "not a number"}, ValueError),
    ],
)
def test_unhashable_values_fail_as_the_definition_does(
    changes: dict[str, Any], error: type[Exception]
) -> None:
    row = grant_row(**changes)
    with pytest.raises(error):
        _slow_row_hash("grants", row)
    with pytest.raises(error):
        row_hash("grants", row)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(1, 2**62),
    ts=st.floats(0, 2**40, allow_nan=False),
    event=st.text(),
    grant_id=st.none() | st.text(),
    peer=st.none() | st.dictionaries(st.text(), json_values, max_size=4),
    detail=st.none() | st.dictionaries(st.text(), json_values, max_size=4),
)
def test_audit_body_text_hashes_as_the_chain_defines(
    seq: int,
    ts: float,
    event: str,
    grant_id: str | None,
    peer: dict[str, Any] | None,
    detail: dict[str, Any] | None,
) -> None:
    prev = hashlib.sha256(str(seq).encode()).hexdigest()
    text = _body_text(seq, ts, event, grant_id, canonical_json(peer), canonical_json(detail))
    expected = audit_hash(
        prev, seq=seq, ts=ts, event=event, grant_id=grant_id, peer=peer, detail=detail
    )
    assert hashlib.sha256(bytes.fromhex(prev) + text.encode()).hexdigest() == expected
