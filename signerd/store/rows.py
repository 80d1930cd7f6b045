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
  StoreTampered instead of being acted on;
- ``verify_audit`` replays the chain and reconciles it with the tables: a row whose hash is
  not the last one the chain recorded for it, a row with no entry, an entry whose row is gone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any, Final

from signerd.errors import StoreTampered
from signerd.store.values import canonical_json

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

# What a read selects next to a grant row: the hash its entry recorded, the grant that entry
# is about, and whether a revocation was recorded after it (a row rolled back to unrevoked).
GRANT_SEAL_COLUMNS: Final = (
    "(SELECT json_extract(detail, '$.row_hash') FROM audit WHERE seq = grants.audit_seq)"
    " AS sealed_hash,"
    " (SELECT grant_id FROM audit WHERE seq = grants.audit_seq) AS sealed_id,"
    " EXISTS (SELECT 1 FROM audit WHERE grant_id = grants.id AND event = 'revoked'"
    " AND seq > grants.audit_seq) AS revoked_later"
)
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
    """The hash of a grants, spends or delegations row's values (a mapping or sqlite3.Row)."""
    body: dict[str, Any] = {"table": table}
    for column in _COLUMNS[table]:
        value = row[column]
        body[column] = float(value) if column in _REAL and value is not None else value
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


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
