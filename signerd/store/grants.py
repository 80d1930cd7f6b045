"""Stored grants: the record, its rows, and adding, reading, listing and revoking grants.

A grant and its "approved" audit entry, a revocation and its "revoked" entry, are committed
in one transaction. No private key is ever stored: a grant document holds typed data and a
signature, and one carrying a key-like field is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from signerd.errors import GrantExists, GrantNotFound, GrantRevoked, ValidationError
from signerd.grants.caps import grant_allowances
from signerd.grants.request import AllowanceSpec
from signerd.store.audit import AuditStep, check_steps
from signerd.store.chain import append_entry
from signerd.store.db import Database
from signerd.store.rows import (
    GRANT_COLUMNS,
    GRANT_SEAL_COLUMNS,
    GRANT_SEAL_JOIN,
    VerifiedRows,
    check_sealed,
    row_hash,
)
from signerd.store.values import (
    INT64_MAX,
    UINT64_LIMIT,
    UINT256_LIMIT,
    JSONDict,
    canonical_json,
    check_page,
    check_uint,
    json_object,
    json_text,
    u64_text,
)

GrantStatus = Literal["active", "revoked", "expired", "pending"]
GRANT_STATUSES: Final[frozenset[str]] = frozenset(get_args(GrantStatus))
_GRANT_ID_RE: Final = re.compile(r"0x[0-9a-f]{64}")
_SELECT: Final = f"SELECT grants.*, {GRANT_SEAL_COLUMNS} FROM grants {GRANT_SEAL_JOIN}"
# Grants read and checked lately (every page of listGrants reads the newest grants again).
_VERIFIED_ROWS: Final[VerifiedRows[StoredGrant]] = VerifiedRows(1024)
_INSERT: Final = (
    f"INSERT INTO grants ({', '.join(GRANT_COLUMNS)}, audit_seq)"
    f" VALUES ({', '.join('?' * (len(GRANT_COLUMNS) + 1))})"
)


@dataclass(frozen=True)
class StoredGrant:
    """A grant the device signed, as stored: the indexed fields plus the full document."""

    id: str
    account: str
    session_key: str
    chain_id: int
    agent: str
    valid_after: int
    valid_until: int
    nonce: int
    document: JSONDict
    device: str
    peer_uid: int | None
    created_at: float
    revoked_at: float | None = None
    revoke_reason: str | None = None

    @classmethod
    def from_document(
        cls, document: JSONDict, *, device: str, peer_uid: int | None, created_at: float
    ) -> StoredGrant:
        """The record of a signed-grant document ({"id", "typedData", "signature", "signer"})."""
        typed_data = document["typedData"]
        message = typed_data["message"]
        return cls(
            id=document["id"],
            account=message["account"],
            session_key=message["sessionKey"],
            chain_id=typed_data["domain"]["chainId"],
            agent=message["agent"],
            valid_after=message["validAfter"],
            valid_until=message["validUntil"],
            nonce=message["nonce"],
            document=document,
            device=device,
            peer_uid=peer_uid,
            created_at=created_at,
        )

    @functools.cached_property
    def allowances(self) -> tuple[AllowanceSpec, ...]:
        """The document's allowances, parsed once per record (every payment checks them)."""
        return grant_allowances(self.document)

    @functools.cached_property
    def payees(self) -> frozenset[str]:
        """The document's payees, lowercase; empty: any payee."""
        return frozenset(p.lower() for p in self.document["typedData"]["message"].get("payees", []))

    def status(self, now: float | None = None) -> GrantStatus:
        """Where the grant stands at ``now``; valid while ``valid_after <= now < valid_until``.

        The same window as signerd.grants.verify, so the store and a verifier never disagree.
        """
        at = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if at < self.valid_after:
            return "pending"
        if at >= self.valid_until:
            return "expired"
        return "active"


class GrantsMixin:
    """The Store's grant methods."""

    _db: Database

    def add_grant(
        self,
        grant: StoredGrant,
        *,
        audit_detail: JSONDict | None = None,
        peer: JSONDict | None = None,
        steps: Sequence[AuditStep] = (),
    ) -> None:
        """Store a signed grant and its "approved" audit entry, in one transaction.

        ``peer`` is the requester as the daemon saw it (uid, pid, exe); it defaults to
        ``{"uid": grant.peer_uid}``. ``steps`` are the request's earlier audit entries
        (received, shown on the device), written first in the same transaction. Raises
        GrantExists for a grant already stored.
        """
        self.add_grants([grant], audit_detail=audit_detail, peer=peer, steps=steps)

    def add_grants(
        self,
        grants: Iterable[StoredGrant],
        *,
        audit_detail: JSONDict | None = None,
        peer: JSONDict | None = None,
        steps: Sequence[AuditStep] = (),
    ) -> None:
        """``add_grant`` for many grants in one transaction (one sync): all are stored or none.

        For bulk loads (an import, a benchmark's setup): a transaction per grant costs a disk
        sync per grant.
        """
        rows = [_grant_row(grant, audit_detail, peer) for grant in grants]
        checked_steps = check_steps(steps)
        steps_peer = json_object("peer", peer)
        with self._db.write() as conn:
            for event, detail in checked_steps:
                append_entry(conn, event, None, steps_peer, detail)
            for grant, values, row_peer, detail in rows:
                # The entry records the row's hash, and the row the entry's seq (rows.py).
                sealed = {**(detail or {}), "row_hash": row_hash("grants", values)}
                entry = append_entry(conn, "approved", grant.id, row_peer, sealed)
                try:
                    conn.execute(_INSERT, [*values.values(), entry.seq])
                except sqlite3.IntegrityError as exc:
                    if conn.execute("SELECT 1 FROM grants WHERE id = ?", (grant.id,)).fetchone():
                        raise GrantExists(f"grant {grant.id} is already stored") from exc
                    raise

    def get_grant(self, grant_id: str) -> StoredGrant | None:
        """The grant with that id, or None."""
        with self._db.read() as conn:
            row = conn.execute(f"{_SELECT} WHERE id = ?", (grant_id,)).fetchone()
        return None if row is None else _grant_from_row(row)

    def list_grants(
        self,
        *,
        peer_uid: int | None = None,
        session_key: str | None = None,
        status: GrantStatus | None = None,
        now: float | None = None,
        limit: int = 50,
        before_created: float | None = None,
        before_id: str | None = None,
        live_on_chain: bool = False,
    ) -> list[StoredGrant]:
        """Grants newest first, at most ``limit`` (1..1000).

        ``live_on_chain``: only grants not revoked whose validity has not ended, active or
        starting later, with a delegation stored and not disabled.

        Keyset pagination: pass the last grant's ``created_at`` as ``before_created`` (and its
        ``id`` as ``before_id``, so grants created in the same instant are neither skipped nor
        repeated) to get the next page. ``status`` is judged at ``now`` (default: the clock).
        ``peer_uid``: only the grants that uid requested (None: every uid's).
        """
        check_page(limit)
        if before_id is not None and before_created is None:
            raise ValidationError("before_id", "needs before_created")
        clauses: list[str] = []
        params: list[Any] = []
        if peer_uid is not None:
            clauses.append("peer_uid = ?")
            params.append(peer_uid)
        if session_key is not None:
            clauses.append("session_key = ?")
            params.append(session_key)
        if status is not None:
            if status not in GRANT_STATUSES:
                raise ValidationError("status", f"must be one of {sorted(GRANT_STATUSES)}")
            clause, values = _status_clause(status, time.time() if now is None else now)
            clauses.append(clause)
            params.extend(values)
        if live_on_chain:
            clauses.append(
                "revoked_at IS NULL AND valid_until > ?"
                " AND id IN (SELECT grant_id FROM delegations WHERE disabled_at IS NULL)"
            )
            params.append(_floor_text(time.time() if now is None else now))
        if before_created is not None and before_id is not None:
            clauses.append("(created_at, id) < (?, ?)")
            params.extend([before_created, before_id])
        elif before_created is not None:
            clauses.append("created_at < ?")
            params.append(before_created)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"{_SELECT} {where} ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._db.read() as conn:
            rows = conn.execute(query, [*params, limit]).fetchall()
        return [_grant_from_row(row) for row in rows]

    def revoke_grant(self, grant_id: str, *, reason: str, peer_uid: int | None) -> StoredGrant:
        """Mark the grant revoked and audit it, in one transaction; returns the revoked grant.

        Raises GrantNotFound for an unknown id and GrantRevoked if it was already revoked.
        """
        with self._db.write() as conn:
            grant = load_grant(conn, grant_id)
            if grant.revoked_at is not None:
                raise GrantRevoked(f"grant {grant_id} was already revoked")
            revoked = dataclasses.replace(grant, revoked_at=time.time(), revoke_reason=reason)
            values = _grant_values(revoked)
            peer = None if peer_uid is None else {"uid": peer_uid}
            detail = {"reason": reason, "row_hash": row_hash("grants", values)}
            entry = append_entry(conn, "revoked", grant_id, peer, detail)
            conn.execute(
                "UPDATE grants SET revoked_at = ?, revoke_reason = ?, audit_seq = ? WHERE id = ?",
                (revoked.revoked_at, reason, entry.seq, grant_id),
            )
            return load_grant(conn, grant_id)


def load_grant(conn: sqlite3.Connection, grant_id: str) -> StoredGrant:
    """The grant inside the caller's transaction; GrantNotFound for an unknown id."""
    row = conn.execute(f"{_SELECT} WHERE id = ?", (grant_id,)).fetchone()
    if row is None:
        raise GrantNotFound(f"no grant {grant_id}")
    return _grant_from_row(row)


def _grant_row(
    grant: StoredGrant, audit_detail: JSONDict | None, peer: JSONDict | None
) -> tuple[StoredGrant, dict[str, Any], JSONDict | None, JSONDict | None]:
    """The checked grants-table values of a grant, and its audit entry's peer and detail."""
    _validate_grant(grant)
    document = json_text("document", grant.document)
    detail = json_object(
        "audit_detail",
        {
            "account": grant.account,
            "session_key": grant.session_key,
            "chain_id": grant.chain_id,
            "valid_after": grant.valid_after,
            "valid_until": grant.valid_until,
            "device": grant.device,
            **(audit_detail or {}),
        },
    )
    if peer is None and grant.peer_uid is not None:
        peer = {"uid": grant.peer_uid}
    values = _grant_values(grant, document)
    return grant, values, json_object("peer", peer), detail


def _grant_values(grant: StoredGrant, document: str | None = None) -> dict[str, Any]:
    """The grants-table columns of a grant (GRANT_COLUMNS, in order), as stored; ``document``:
    the document's stored text, if the caller encoded it already."""
    return {
        "id": grant.id,
        "account": grant.account,
        "session_key": grant.session_key,
        "chain_id": grant.chain_id,
        "agent": grant.agent,
        "valid_after": u64_text(grant.valid_after),
        "valid_until": u64_text(grant.valid_until),
        "nonce": str(grant.nonce),
        "document": canonical_json(grant.document) if document is None else document,
        "device": grant.device,
        "peer_uid": grant.peer_uid,
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
        "revoke_reason": grant.revoke_reason,
    }


def _validate_grant(grant: StoredGrant) -> None:
    if not isinstance(grant.id, str) or not _GRANT_ID_RE.fullmatch(grant.id):
        raise ValidationError("id", "must be 0x followed by 64 lowercase hex digits")
    check_uint("chain_id", grant.chain_id, INT64_MAX + 1)
    check_uint("valid_after", grant.valid_after, UINT64_LIMIT)
    check_uint("valid_until", grant.valid_until, UINT64_LIMIT)
    check_uint("nonce", grant.nonce, UINT256_LIMIT)
    if grant.document.get("id", grant.id) != grant.id:
        raise ValidationError("document.id", "does not match the grant id")


def _grant_from_row(row: sqlite3.Row) -> StoredGrant:
    """The grant of a row read with its seal columns; StoreTampered if it was edited.

    The check is a pure function of what was read (the row's values and its seal columns):
    a row read exactly as it read before, seal columns included, passes it again, so it is
    answered from ``_VERIFIED_ROWS`` (rows.py's VerifiedRows) without hashing the row or
    parsing its document again.
    """
    read = tuple(row)
    cached = _VERIFIED_ROWS.get(row["id"], read)
    if cached is not None:
        return cached
    check_sealed("grants", row)
    grant = StoredGrant(
        id=row["id"],
        account=row["account"],
        session_key=row["session_key"],
        chain_id=row["chain_id"],
        agent=row["agent"],
        valid_after=int(row["valid_after"]),
        valid_until=int(row["valid_until"]),
        nonce=int(row["nonce"]),
        document=json.loads(row["document"]),
        device=row["device"],
        peer_uid=row["peer_uid"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )
    _VERIFIED_ROWS.put(row["id"], read, grant)
    return grant


def _floor_text(now: float) -> str:
    return u64_text(min(max(math.floor(now), 0), UINT64_LIMIT - 1))


def _status_clause(status: GrantStatus, now: float) -> tuple[str, list[Any]]:
    """SQL equal to ``StoredGrant.status(now) == status``."""
    # The bounds are integers, so comparing them with floor(now) is exact:
    # b <= now <=> b <= floor(now), and b > now <=> b > floor(now).
    floor_now = _floor_text(now)
    if status == "revoked":
        return "revoked_at IS NOT NULL", []
    if status == "pending":
        return "revoked_at IS NULL AND valid_after > ?", [floor_now]
    if status == "expired":
        return "revoked_at IS NULL AND valid_after <= ? AND valid_until <= ?", [floor_now] * 2
    return "revoked_at IS NULL AND valid_after <= ? AND valid_until > ?", [floor_now] * 2
