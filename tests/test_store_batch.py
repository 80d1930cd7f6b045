"""Store.add_grants (many grants, one transaction) and non-durable audit entries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from signerd.store import DB_FILENAME, GrantExists, Store
from tests.support import make_grant

FULL = 2  # PRAGMA synchronous value


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def test_add_grants_stores_each_with_its_approved_entry(store: Store) -> None:
    grants = [make_grant(n, created_at=1000.0 + n) for n in range(5)]
    store.add_grants(grants, audit_detail={"device": "bulk"})
    assert [g.id for g in store.list_grants(limit=10)] == [g.id for g in reversed(grants)]
    for grant in grants:
        assert store.get_grant(grant.id) == grant
    entries = store.audit_entries()
    assert [(e.event, e.grant_id) for e in entries] == [("approved", g.id) for g in grants]
    assert all(e.detail is not None and e.detail["device"] == "bulk" for e in entries)
    assert store.verify_audit().ok


def test_add_grants_is_all_or_nothing(store: Store) -> None:
    store.add_grant(make_grant(3))
    with pytest.raises(GrantExists):
        store.add_grants([make_grant(1), make_grant(2), make_grant(3)])
    assert [g.id for g in store.list_grants()] == [make_grant(3).id]
    assert len(store.audit_entries()) == 1
    assert store.verify_audit().ok


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
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == FULL


def test_a_failed_non_durable_write_restores_sync(store: Store) -> None:
    with pytest.raises(ValueError), store._write(durable=False):
        raise ValueError("boom")
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == FULL
    assert store.audit_entries() == []
