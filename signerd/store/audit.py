"""The hash-chained audit log: appending inside a write transaction, reading, verifying.

Each audit row stores ``hash = sha256(prev_hash || canonical JSON of {seq, ts, event,
grant_id, peer, detail})`` (``prev_hash`` as 32 raw bytes; canonical JSON is
``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=True)``); the first
row's ``prev_hash`` is 32 zero bytes. A one-row ``audit_head`` table holds the last seq and
hash and is advanced in the same transaction as each append. Triggers make the log
append-only inside SQLite (UPDATE/DELETE abort; an INSERT must extend the head; the head
only moves forward by one entry). ``verify_audit`` walks the chain and detects:

- an edited row (its hash no longer matches its contents);
- a deleted row (a gap in seq) and an inserted or re-numbered row (a broken ``prev_hash`` link
  or a seq out of order);
- a truncated tail or rows appended behind the head's back (the chain and ``audit_head``
  disagree);
- a grant or spend row that is not as the chain last recorded it (edited, deleted, or added
  without an entry): see signerd/store/rows.py.

What it cannot detect: someone with write access to the file who rewrites the whole chain
from the first changed row onwards and updates ``audit_head`` to match (or deletes the tail
and rewinds the head consistently). The chain makes that a deliberate act rather than an
accident; to catch it, copy the head hash that ``signerd audit --verify`` prints somewhere
the attacker cannot write (a note, another machine) and compare later: any rewrite of an
earlier entry changes every later hash.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from signerd.errors import ValidationError
from signerd.store.chain import AuditEntry, append_entry, audit_hash
from signerd.store.db import Database
from signerd.store.rows import reconcile
from signerd.store.schema import GENESIS_HASH
from signerd.store.values import JSONDict, check_page, json_object

AuditEvent = Literal[
    "request_received",
    "shown_on_device",
    "approved",
    "rejected",
    "timed_out",
    "queue_timeout",
    "cancelled",
    "device_error",
    "policy_refused",
    "duplicate",
    "invalid",
    "completed",
    "failed",
    "revoked",
    "spend_reserved",
    "spend_committed",
    "spend_released",
    "spend_refused",
    "sealed",
    "delegated",
    "delegation_disabled",
    "delegation_redeemed",
]
AUDIT_EVENTS: Final[frozenset[str]] = frozenset(get_args(AuditEvent))


@dataclass(frozen=True)
class AuditReport:
    """The outcome of walking the audit chain: ``bad_seq``/``reason`` name the first problem."""

    ok: bool
    count: int
    head: str
    bad_seq: int | None = None
    reason: str | None = None
    # Every grant or spend row that disagrees with the chain (signerd/store/rows.py).
    problems: tuple[str, ...] = ()


AuditStep = tuple[str, JSONDict | None]
"""An entry a flow noted before its outcome: event name and detail."""


def check_steps(entries: Sequence[AuditStep]) -> list[AuditStep]:
    """``entries`` with known events and storable details, or ValidationError."""
    checked: list[AuditStep] = []
    for event, detail in entries:
        if event not in AUDIT_EVENTS:
            raise ValidationError("event", f"unknown audit event {event!r}")
        checked.append((event, json_object("detail", detail)))
    return checked


class AuditMixin:
    """The Store's audit methods."""

    _db: Database

    def append_audit(
        self,
        event: str,
        *,
        grant_id: str | None = None,
        peer: JSONDict | None = None,
        detail: JSONDict | None = None,
        durable: bool = True,
    ) -> AuditEntry:
        """Append one entry to the audit chain (its own transaction) and return it.

        ``event`` is one of AUDIT_EVENTS (the AuditEvent literals); others are refused.
        ``durable=False`` is for the intermediate steps of a flow whose last entry is durable
        (a grant request: received, shown, then approved/rejected/...): the entry is
        committed at once but synced to disk with that last entry, which saves a sync per
        step. Until then a power loss may drop it (and only it and later entries).
        """
        if event not in AUDIT_EVENTS:
            raise ValidationError("event", f"unknown audit event {event!r}")
        peer = json_object("peer", peer)
        detail = json_object("detail", detail)
        with self._db.write(durable=durable) as conn:
            return append_entry(conn, event, grant_id, peer, detail)

    def append_audit_entries(
        self, entries: Sequence[AuditStep], *, peer: JSONDict | None = None
    ) -> None:
        """Append a request's entries (its steps, then its outcome) in one durable transaction."""
        checked = check_steps(entries)
        peer = json_object("peer", peer)
        with self._db.write() as conn:
            for event, detail in checked:
                append_entry(conn, event, None, peer, detail)

    def audit_entries(
        self, *, after_seq: int = 0, limit: int = 1000, grant_id: str | None = None
    ) -> list[AuditEntry]:
        """Entries with seq > ``after_seq`` in order, at most ``limit``; optionally one grant's."""
        check_page(limit)
        query = "SELECT * FROM audit WHERE seq > ?"
        params: list[Any] = [after_seq]
        if grant_id is not None:
            query += " AND grant_id = ?"
            params.append(grant_id)
        query += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._db.read() as conn:
            rows = conn.execute(query, params).fetchall()
        return [_entry_from_row(row) for row in rows]

    def verify_audit(self) -> AuditReport:
        """Walk the whole chain and compare its end with ``audit_head``, then reconcile the
        grants and spends with the row hashes the chain recorded; the first problem wins."""
        with self._db.read() as conn:
            report = _walk_chain(conn)
            if not report.ok:
                return report
            problems = reconcile(
                conn.execute("SELECT seq, event, grant_id, detail FROM audit ORDER BY seq"), conn
            )
        if not problems:
            return report
        bad_seq, first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return dataclasses.replace(
            report,
            ok=False,
            bad_seq=bad_seq,
            reason=first + more,
            problems=tuple(problem for _, problem in problems),
        )


def _walk_chain(conn: sqlite3.Connection) -> AuditReport:
    head = conn.execute("SELECT seq, hash FROM audit_head").fetchall()
    count = 0
    expected_seq, prev = 1, GENESIS_HASH
    for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
        bad = _check_entry(row, expected_seq, prev)
        if bad is not None:
            return AuditReport(False, count, prev, bad[0], bad[1])
        count += 1
        expected_seq, prev = row["seq"] + 1, row["hash"]
    last_seq = expected_seq - 1
    if len(head) != 1:
        return AuditReport(False, count, prev, None, "the audit head record is missing")
    head_seq, head_hash = head[0]
    if last_seq < head_seq:
        return AuditReport(
            False,
            count,
            prev,
            last_seq + 1,
            f"entries {last_seq + 1}..{head_seq} are missing: the log was truncated",
        )
    if last_seq > head_seq:
        return AuditReport(
            False, count, prev, head_seq + 1, f"entries after seq {head_seq} bypassed the head"
        )
    if head_hash != prev:
        return AuditReport(False, count, prev, head_seq, "the head hash does not match the log")
    return AuditReport(True, count, prev)


def _check_entry(row: sqlite3.Row, expected_seq: int, prev: str) -> tuple[int, str] | None:
    seq = row["seq"]
    if seq < expected_seq:
        return seq, f"seq {seq} out of order (expected {expected_seq})"
    if seq > expected_seq:
        return expected_seq, f"entry {expected_seq} is missing"
    if row["prev_hash"] != prev:
        return seq, "prev_hash does not link to the previous entry"
    try:
        digest = audit_hash(
            prev,
            seq=seq,
            ts=row["ts"],
            event=row["event"],
            grant_id=row["grant_id"],
            peer=json.loads(row["peer"]),
            detail=json.loads(row["detail"]),
        )
    except (TypeError, ValueError) as exc:
        return seq, f"entry is unreadable: {exc}"
    if digest != row["hash"]:
        return seq, "hash does not match the entry's contents"
    return None


def _entry_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        ts=row["ts"],
        event=row["event"],
        grant_id=row["grant_id"],
        peer=json.loads(row["peer"]),
        detail=json.loads(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
