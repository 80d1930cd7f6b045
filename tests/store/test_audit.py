"""Tests of signerd.store.audit: the hash chain, its triggers, what verify_audit detects."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from signerd import store as store_module
from signerd.errors import ValidationError
from signerd.store import DB_FILENAME, GENESIS_HASH, Store
from tests.store.support import drop_triggers, raw
from tests.support import NOW, make_grant

FULL = 2  # PRAGMA synchronous value


def fill_audit(store: Store, count: int = 6) -> None:
    for n in range(count):
        store.append_audit(
            "request_received", grant_id=None, peer={"uid": 1000, "pid": n}, detail={"n": n}
        )


def test_audit_chain_verifies_and_hashes_are_reproducible(store: Store) -> None:
    fill_audit(store)
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS_HASH
    for entry in entries:
        body = json.dumps(
            {
                "seq": entry.seq,
                "ts": entry.ts,
                "event": entry.event,
                "grant_id": entry.grant_id,
                "peer": entry.peer,
                "detail": entry.detail,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256(bytes.fromhex(prev) + body.encode()).hexdigest()
        prev = entry.hash
    report = store.verify_audit()
    assert (report.ok, report.count, report.head, report.bad_seq) == (True, 6, prev, None)
    assert store.audit_entries(after_seq=4, limit=1)[0].seq == 5
    with pytest.raises(ValidationError):
        store.append_audit("made_up")
    # The exported form carries what an outside checker needs to recompute the chain.
    exported = json.loads(json.dumps([e.to_json() for e in entries]))
    assert exported[0]["prev_hash"] == GENESIS_HASH
    assert exported[-1]["hash"] == report.head


def test_empty_audit_verifies(store: Store) -> None:
    assert store.verify_audit() == store_module.AuditReport(True, 0, GENESIS_HASH)


def test_triggers_make_audit_append_only(store: Store, tmp_path: Path) -> None:
    fill_audit(store, 3)
    conn = raw(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET detail = '{}' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="extend the head"):
        conn.execute(
            "INSERT INTO audit VALUES (9, 0, 'approved', NULL, 'null', 'null', ?, ?)",
            (GENESIS_HASH, GENESIS_HASH),
        )
    with pytest.raises(sqlite3.IntegrityError, match="next entry"):
        conn.execute("UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2)")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        conn.execute("DELETE FROM audit_head")
    conn.close()
    assert store.verify_audit().ok


def forged_hash(seq: int, prev: str, detail: dict[str, Any]) -> str:
    return store_module.audit_hash(
        prev, seq=seq, ts=NOW, event="approved", grant_id=None, peer=None, detail=detail
    )


def test_detects_edited_entry(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("""UPDATE audit SET detail = '{"n":99}' WHERE seq = 3""")
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        3,
        "hash does not match the entry's contents",
    )
    assert report.count == 2


def test_detects_deleted_middle_entry(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("DELETE FROM audit WHERE seq = 3")
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (False, 3, "entry 3 is missing")


def test_detects_forged_entry_inserted_in_the_middle(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    # Make room at seq 3 and insert a self-consistent forged entry linked to entry 2.
    conn.execute("UPDATE audit SET seq = seq + 1000 WHERE seq >= 3")
    conn.execute("UPDATE audit SET seq = seq - 999 WHERE seq >= 1000")
    (prev,) = conn.execute("SELECT hash FROM audit WHERE seq = 2").fetchone()
    conn.execute(
        "INSERT INTO audit VALUES (3, ?, 'approved', NULL, 'null', ?, ?, ?)",
        (NOW, '{"forged":true}', prev, forged_hash(3, prev, {"forged": True})),
    )
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        4,
        "prev_hash does not link to the previous entry",
    )


def test_detects_forged_entry_appended_behind_the_head(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    (prev,) = conn.execute("SELECT hash FROM audit WHERE seq = 6").fetchone()
    conn.execute(
        "INSERT INTO audit VALUES (7, ?, 'approved', NULL, 'null', ?, ?, ?)",
        (NOW, '{"forged":true}', prev, forged_hash(7, prev, {"forged": True})),
    )
    report = store.verify_audit()
    assert (report.ok, report.count, report.bad_seq, report.reason) == (
        False,
        7,
        7,
        "entries after seq 6 bypassed the head",
    )


def test_detects_truncated_tail(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("DELETE FROM audit WHERE seq = 6")
    report = store.verify_audit()
    assert (report.ok, report.count, report.bad_seq, report.reason) == (
        False,
        5,
        6,
        "entries 6..6 are missing: the log was truncated",
    )


def test_detects_rewritten_head(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("UPDATE audit_head SET hash = ?", ("ff" * 32,))
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        6,
        "the head hash does not match the log",
    )


# Entries synced with the flow's last one


def test_non_durable_entries_are_committed_chained_and_sync_is_restored(
    store: Store, tmp_path: Path
) -> None:
    store.append_audit("request_received", peer={"uid": 1}, durable=False)
    store.append_audit("shown_on_device", peer={"uid": 1}, durable=False)
    # Visible to another connection at once: committed, only the disk sync is deferred.
    other = sqlite3.connect(tmp_path / "data" / DB_FILENAME)
    try:
        events = [row[0] for row in other.execute("SELECT event FROM audit ORDER BY seq")]
    finally:
        other.close()
    assert events == ["request_received", "shown_on_device"]
    store.add_grant(make_grant(1))
    assert store.verify_audit().ok
    # The store's own connection is back to syncing every commit.
    assert store._db._writer.execute("PRAGMA synchronous").fetchone()[0] == FULL
