"""Row seals: every grant and spend row is bound to the audit entry that last changed it.

The entry that creates or changes a row (approved, revoked, spend_reserved/committed/released,
or "sealed" when a store is migrated) carries ``row_hash``, the sha256 of the row's canonical
JSON, in its detail; the row keeps that entry's ``audit_seq``. The detail is covered by the
entry's chain hash, so editing a row means forging a chain entry, which ``verify_audit``
catches (every later hash changes).

Two checks, one cheap and one thorough:

- every read of a row that decides spending (grants and spends) recomputes its hash and
  compares it with its entry's (one primary-key lookup), and a grant that reads as not
  revoked must have no "revoked" entry (an index lookup): an edited row is refused with
  StoreTampered instead of being acted on. The check is a function of what was read (the
  row and those seal columns) alone, so a grant row read again exactly as it passed is not
  hashed again (``VerifiedRows``);
- ``verify_audit`` replays the chain and reconciles it with the tables: a row whose hash is
  not the last one the chain recorded for it, a row with no entry, an entry whose row is gone.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Generic, TypeVar

from signerd.errors import StoreTampered
from signerd.store.values import canonical_json

T = TypeVar("T")
# json's C escaper for ASCII output, the one json.dumps(ensure_ascii=True) uses.
_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii

GRANT_COLUMNS: Final = (
    "id",
    "account",
    "session_key",
    "chain_id",
    "agent",
    "valid_after",
    "valid_until",
    "nonce",
    "document",
    "device",
    "peer_uid",
    "created_at",
    "revoked_at",
    "revoke_reason",
)
# seq is left out: it only orders the ledger, and SQLite assigns it after the hash is taken.
SPEND_COLUMNS: Final = (
    "key",
    "grant_id",
    "token",
    "amount",
    "payee",
    "content_hash",
    "at",
    "status",
    "signature_ref",
    "settled_at",
)
DELEGATION_COLUMNS: Final = (
    "grant_id",
    "chain_id",
    "manager",
    "delegator",
    "hash",
    "delegation",
    "created_at",
    "disabled_at",
    "disable_tx",
)
_COLUMNS: Final = {
    "grants": GRANT_COLUMNS,
    "spends": SPEND_COLUMNS,
    "delegations": DELEGATION_COLUMNS,
}
_IDENTITY: Final = {"grants": "id", "spends": "key", "delegations": "grant_id"}
# REAL columns read back as floats whatever number went in: hash them as floats.
_REAL: Final = frozenset({"created_at", "revoked_at", "settled_at", "disabled_at"})
GRANT_EVENTS: Final = frozenset({"approved", "revoked"})
SPEND_EVENTS: Final = frozenset({"spend_reserved", "spend_committed", "spend_released"})
DELEGATION_EVENTS: Final = frozenset({"delegated", "delegation_disabled"})

# What a read selects next to a grant row (FROM grants GRANT_SEAL_JOIN): the hash its entry
# recorded, the grant that entry is about, and whether a revocation was recorded after it (a
# row rolled back to unrevoked). The entry is joined, not looked up twice by subqueries.
GRANT_SEAL_COLUMNS: Final = (
    "json_extract(seal.detail, '$.row_hash') AS sealed_hash,"
    " seal.grant_id AS sealed_id,"
    " EXISTS (SELECT 1 FROM audit WHERE grant_id = grants.id AND event = 'revoked'"
    " AND seq > grants.audit_seq) AS revoked_later"
)
GRANT_SEAL_JOIN: Final = "LEFT JOIN audit AS seal ON seal.seq = grants.audit_seq"
SPEND_SEAL_COLUMNS: Final = (
    "(SELECT json_extract(detail, '$.row_hash') FROM audit WHERE seq = spends.audit_seq)"
    " AS sealed_hash,"
    " (SELECT json_extract(detail, '$.key') FROM audit WHERE seq = spends.audit_seq)"
    " AS sealed_id,"
    " 0 AS revoked_later"
)
DELEGATION_SEAL_COLUMNS: Final = (
    "(SELECT json_extract(detail, '$.row_hash') FROM audit WHERE seq = delegations.audit_seq)"
    " AS sealed_hash,"
    " (SELECT grant_id FROM audit WHERE seq = delegations.audit_seq) AS sealed_id,"
    " EXISTS (SELECT 1 FROM audit WHERE grant_id = delegations.grant_id"
    " AND event = 'delegation_disabled' AND seq > delegations.audit_seq) AS revoked_later"
)


def row_hash(table: str, row: Mapping[str, Any] | sqlite3.Row) -> str:
    """The hash of a grants, spends or delegations row's values (a mapping or sqlite3.Row).

    sha256 of ``canonical_json({"table": table, column: value, ...})``. The text is written
    here column by column, in the sorted order canonical_json uses, with json's own C string
    escaper: byte for byte the same text (tests/store/test_row_hash.py checks it on generated
    rows) at a third of the cost, as json.dumps walked the dict and sorted its keys at every
    read. A value of any other type, or a non-finite float, goes through canonical_json.
    """
    parts = []
    for column, is_real, prefix in _SORTED[table]:
        value = table if column is None else row[column]
        kind = type(value)
        if value is None:
            text = "null"
        elif is_real or kind is float:
            if kind is not int and kind is not float:
                return _slow_row_hash(table, row)
            number = float(value)
            if not math.isfinite(number):
                return _slow_row_hash(table, row)
            text = repr(number)
        elif kind is str:
            text = _encode_string(value)
        elif kind is int:
            text = repr(value)
        else:
            return _slow_row_hash(table, row)
        parts.append(prefix + text)
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()


def _slow_row_hash(table: str, row: Mapping[str, Any] | sqlite3.Row) -> str:
    """The definition: canonical_json of the row's values (raises what it raises)."""
    body: dict[str, Any] = {"table": table}
    for column in _COLUMNS[table]:
        value = row[column]
        body[column] = float(value) if column in _REAL and value is not None else value
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _sorted_columns(table: str) -> tuple[tuple[str | None, bool, str], ...]:
    """The body's keys in canonical_json's order: (column, hashed as a float, its '"key":'
    text); the column None is the "table" key."""
    keys = sorted([*_COLUMNS[table], "table"])
    return tuple(
        (None if key == "table" else key, key in _REAL, _encode_string(key) + ":") for key in keys
    )


_SORTED: Final = {table: _sorted_columns(table) for table in _COLUMNS}


class VerifiedRows(Generic[T]):
    """What rows that passed ``check_sealed`` were read as, by identity, up to ``size`` rows.

    ``get`` answers only for a row read exactly as it was when it passed: every value, its
    seal columns included (the hash its audit entry recorded, that entry's identity, a later
    revocation). The check depends on nothing else, so it would pass again; any difference
    (an edited value, a new entry, a revocation) is a miss, and the row is checked afresh.
    Thread-safe: readers share one.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        # Ordered for an O(1) eviction of the oldest (a dict's first key after many deletions
        # is found by walking over their holes).
        self._rows: OrderedDict[Any, tuple[tuple[Any, ...], tuple[type, ...], T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identity: Any, read: tuple[Any, ...]) -> T | None:
        """The value kept for the row, if ``read`` (``tuple(row)``) is what was checked:
        equal values of the same types (1 and 1.0 are equal, but hash differently)."""
        entry = self._rows.get(identity)
        if entry is None or entry[0] != read or entry[1] != tuple(map(type, read)):
            return None
        return entry[2]

    def put(self, identity: Any, read: tuple[Any, ...], value: T) -> None:
        """Keep ``value`` for a row read as ``read`` that has just passed the check."""
        with self._lock:
            self._rows.pop(identity, None)
            while len(self._rows) >= self._size:
                self._rows.popitem(last=False)
            self._rows[identity] = (read, tuple(map(type, read)), value)


def check_sealed(table: str, row: sqlite3.Row) -> None:
    """StoreTampered unless the row read with its seal columns matches its audit entry."""
    identity = row[_IDENTITY[table]]
    if row["sealed_hash"] is None or row["sealed_id"] != identity:
        problem = "has no audit entry of its own"
    elif row["sealed_hash"] != row_hash(table, row):
        problem = "does not match what the audit log recorded"
    elif row["revoked_later"]:
        problem = "reads as not revoked, but the audit log recorded its revocation"
    else:
        return
    kind = table[:-1]
    raise StoreTampered(
        f"{kind} {identity} {problem}: the store was edited outside signerd;"
        " run `signerd audit --verify`",
        {kind: identity},
    )


def reconcile(
    entries: Iterable[sqlite3.Row], conn: sqlite3.Connection
) -> list[tuple[int | None, str]]:
    """Every disagreement between the rows and the last hash the chain recorded for each:
    (the seq of that entry, or None for a row no entry names; what is wrong)."""
    recorded: dict[tuple[str, Any], tuple[int, str]] = {}
    for entry in entries:
        detail = json.loads(entry["detail"]) or {}
        if not isinstance(detail, dict) or "row_hash" not in detail:
            continue  # written before rows were sealed
        if entry["event"] in DELEGATION_EVENTS or detail.get("table") == "delegations":
            recorded["delegations", entry["grant_id"]] = (entry["seq"], detail["row_hash"])
        elif entry["event"] in GRANT_EVENTS or detail.get("table") == "grants":
            recorded["grants", entry["grant_id"]] = (entry["seq"], detail["row_hash"])
        elif entry["event"] in SPEND_EVENTS or detail.get("table") == "spends":
            recorded["spends", detail.get("key")] = (entry["seq"], detail["row_hash"])
    problems: list[tuple[int | None, str]] = []
    for table, identity_column in _IDENTITY.items():
        kind = table[:-1]
        for row in conn.execute(f"SELECT * FROM {table}"):
            identity = row[identity_column]
            expected = recorded.pop((table, identity), None)
            if expected is None:
                problems.append((None, f"{kind} {identity} has no audit entry"))
            elif expected[1] != row_hash(table, row):
                problems.append((expected[0], f"{kind} {identity} was changed outside signerd"))
    problems.extend(
        (seq, f"{table[:-1]} {identity} is gone")
        for (table, identity), (seq, _) in recorded.items()
    )
    return problems
