"""The audit chain's links: an entry's hash and appending one inside a write transaction.

Apart from the audit module so that the schema's migrations and the row seals (rows.py) can
append entries without importing the Store's mixins.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from signerd.store.values import JSONDict, canonical_json, peer_text


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


def _body_text(
    seq: int, ts: float, event: str, grant_id: str | None, peer_text: str, detail_text: str
) -> str:
    """``canonical_json`` of audit_hash's body, from peer and detail already encoded.

    The keys in canonical_json's sorted order, each value with json's own encoders: byte for
    byte the same text (tests/store/test_row_hash.py checks it), while peer and detail, which
    the row stores as text anyway, are encoded once instead of twice.
    """
    grant = "null" if grant_id is None else encode_basestring_ascii(grant_id)
    return (
        f'{{"detail":{detail_text},"event":{encode_basestring_ascii(event)},'
        f'"grant_id":{grant},"peer":{peer_text},"seq":{seq},"ts":{float.__repr__(ts)}}}'
    )


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
    who, detail_text = peer_text(peer), canonical_json(detail)
    body = _body_text(seq, ts, event, grant_id, who, detail_text)
    digest = hashlib.sha256(bytes.fromhex(head_hash) + body.encode()).hexdigest()
    conn.execute(
        "INSERT INTO audit (seq, ts, event, grant_id, peer, detail, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, ts, event, grant_id, who, detail_text, head_hash, digest),
    )
    conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, digest))
    return AuditEntry(seq, ts, event, grant_id, peer, detail, head_hash, digest)
