"""Stored delegations: a grant's ERC-7710 delegation as the device signed it, and its
disabling on chain.

A delegation row is written with its "delegated" audit entry, and marked disabled with its
"delegation_disabled" entry, each in one transaction, sealed like grant rows (rows.py): an
edited delegation is refused with StoreTampered rather than handed to an agent.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from signerd.errors import DelegationExists, DelegationNotFound, GrantNotFound
from signerd.store.audit import AuditStep, check_steps
from signerd.store.chain import append_entry
from signerd.store.db import Database
from signerd.store.rows import DELEGATION_COLUMNS, DELEGATION_SEAL_COLUMNS, check_sealed, row_hash
from signerd.store.values import JSONDict, canonical_json, json_object

_SELECT: Final = f"SELECT delegations.*, {DELEGATION_SEAL_COLUMNS} FROM delegations"


@dataclass(frozen=True)
class StoredDelegation:
    grant_id: str
    chain_id: int
    manager: str  # the DelegationManager it was signed for (its EIP-712 domain)
    delegator: str
    hash: str  # 0x-hex struct hash: DelegationManager's id for it
    delegation: JSONDict  # signerd.onchain.delegation.Delegation.to_json()
    created_at: float
    disabled_at: float | None = None
    disable_tx: str | None = None

    def to_json(self) -> JSONDict:
        return {
            "grantId": self.grant_id,
            "chainId": self.chain_id,
            "delegationManager": self.manager,
            "delegator": self.delegator,
            "hash": self.hash,
            "delegation": self.delegation,
            "createdAt": self.created_at,
            "disabledAt": self.disabled_at,
            "disableTx": self.disable_tx,
        }


class DelegationsMixin:
    """The Store's delegation methods."""

    _db: Database

    def add_delegation(
        self,
        record: StoredDelegation,
        *,
        peer: JSONDict | None = None,
        steps: Sequence[AuditStep] = (),
    ) -> None:
        """Store a grant's signed delegation with its "delegated" entry (one transaction),
        after the request's earlier ``steps``.

        GrantNotFound without the grant, DelegationExists when it has one already.
        """
        values = _values(record)
        checked_steps = check_steps(steps)
        peer = json_object("peer", peer)
        with self._db.write() as conn:
            for event, step in checked_steps:
                append_entry(conn, event, record.grant_id, peer, step)
            if (
                conn.execute("SELECT 1 FROM grants WHERE id = ?", (record.grant_id,)).fetchone()
                is None
            ):
                raise GrantNotFound(f"no grant {record.grant_id}")
            if _row(conn, record.grant_id) is not None:
                raise DelegationExists(f"grant {record.grant_id} already has its delegation")
            detail = {
                "table": "delegations",
                "hash": record.hash,
                "delegator": record.delegator,
                "chain_id": record.chain_id,
                "row_hash": row_hash("delegations", values),
            }
            entry = append_entry(conn, "delegated", record.grant_id, peer, detail)
            columns = ", ".join(DELEGATION_COLUMNS)
            marks = ", ".join("?" * (len(DELEGATION_COLUMNS) + 1))
            conn.execute(
                f"INSERT INTO delegations ({columns}, audit_seq) VALUES ({marks})",
                [*values.values(), entry.seq],
            )

    def get_delegation(self, grant_id: str) -> StoredDelegation | None:
        with self._db.read() as conn:
            row = _row(conn, grant_id)
        return None if row is None else _from_row(row)

    def disable_delegation(
        self,
        grant_id: str,
        *,
        tx: str,
        peer: JSONDict | None = None,
        steps: Sequence[AuditStep] = (),
    ) -> StoredDelegation:
        """Record that the delegation was disabled on chain by transaction ``tx``."""
        checked_steps = check_steps(steps)
        peer = json_object("peer", peer)
        with self._db.write() as conn:
            for event, step in checked_steps:
                append_entry(conn, event, grant_id, peer, step)
            row = _row(conn, grant_id)
            if row is None:
                raise DelegationNotFound(f"grant {grant_id} has no delegation")
            record = _from_row(row)
            disabled = StoredDelegation(
                **{**vars(record), "disabled_at": time.time(), "disable_tx": tx}
            )
            detail = {
                "table": "delegations",
                "tx": tx,
                "row_hash": row_hash("delegations", _values(disabled)),
            }
            entry = append_entry(conn, "delegation_disabled", grant_id, peer, detail)
            conn.execute(
                "UPDATE delegations SET disabled_at = ?, disable_tx = ?, audit_seq = ?"
                " WHERE grant_id = ?",
                (disabled.disabled_at, tx, entry.seq, grant_id),
            )
            stored = _row(conn, grant_id)
            assert stored is not None
            return _from_row(stored)


def _row(conn: sqlite3.Connection, grant_id: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(f"{_SELECT} WHERE grant_id = ?", (grant_id,)).fetchone()
    return row


def _values(record: StoredDelegation) -> dict[str, Any]:
    return {
        "grant_id": record.grant_id,
        "chain_id": record.chain_id,
        "manager": record.manager,
        "delegator": record.delegator,
        "hash": record.hash,
        "delegation": canonical_json(record.delegation),
        "created_at": record.created_at,
        "disabled_at": record.disabled_at,
        "disable_tx": record.disable_tx,
    }


def _from_row(row: sqlite3.Row) -> StoredDelegation:
    check_sealed("delegations", row)
    return StoredDelegation(
        grant_id=row["grant_id"],
        chain_id=row["chain_id"],
        manager=row["manager"],
        delegator=row["delegator"],
        hash=row["hash"],
        delegation=json.loads(row["delegation"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        disable_tx=row["disable_tx"],
    )
