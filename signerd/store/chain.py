"""The audit chain's links: an entry's hash and appending one inside a write transaction.

Apart from the audit module so that the schema's migrations and the row seals (rows.py) can
append entries without importing the Store's mixins.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass

from signerd.store.values import JSONDict, canonical_json


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit chain."""

    seq: int
    ts: float
    event: str
    grant_id: str | None
    peer: JSONDict | None
    detail: JSONDict | None
    prev_hash: str
    hash: str

    def to_json(self) -> JSONDict:
        """The entry as a JSON object, with everything needed to recompute its hash."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "event": self.event,
            "grant_id": self.grant_id,
            "peer": self.peer,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def audit_hash(
    prev_hash: str,
    *,
    seq: int,
    ts: float,
    event: str,
    grant_id: str | None,
    peer: JSONDict | None,
    detail: JSONDict | None,
) -> str:
    """The chain hash of one entry (hex), so that an exported log can be checked without signerd."""
    body = {
        "seq": seq,
        "ts": ts,
        "event": event,
        "grant_id": grant_id,
        "peer": peer,
        "detail": detail,
    }
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(body).encode()).hexdigest()


def append_entry(
    conn: sqlite3.Connection,
    event: str,
    grant_id: str | None,
    peer: JSONDict | None,
    detail: JSONDict | None,
) -> AuditEntry:
    """Append inside the caller's write transaction; peer/detail already normalised."""
    head_seq, head_hash = conn.execute("SELECT seq, hash FROM audit_head").fetchone()
    seq = head_seq + 1
    ts = time.time()
    digest = audit_hash(
        head_hash, seq=seq, ts=ts, event=event, grant_id=grant_id, peer=peer, detail=detail
    )
    conn.execute(
        "INSERT INTO audit (seq, ts, event, grant_id, peer, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            ts,
            event,
            grant_id,
            canonical_json(peer),
            canonical_json(detail),
            head_hash,
            digest,
        ),
    )
    conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, digest))
    return AuditEntry(seq, ts, event, grant_id, peer, detail, head_hash, digest)
