"""WAL checkpoints: never inside a commit, on the checkpointer's thread instead."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from signerd.store import DB_FILENAME, Store
from signerd.store import checkpoint as checkpoint_module
from signerd.store.db import Database

# ~2 pages of audit detail per commit: SQLite's own checkpoint would run by commit ~500.
BIG_DETAIL = {"reason": "x" * 6000}


def _commit(store: Store, count: int) -> None:
    for _ in range(count):
        store.append_audit("failed", detail=BIG_DETAIL, durable=False)


def _wal(data: Path) -> Path:
    return data / f"{DB_FILENAME}-wal"


def _wait_for_a_checkpoint(store: Store) -> None:
    checkpoints = store._db._checkpoints
    deadline = time.monotonic() + 10
    while checkpoints.runs == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpoints.runs == 1


def test_no_commit_checkpoints_the_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_EVERY", 10**9)
    data = tmp_path / "data"
    with Store.open(data) as store:
        size_before = (data / DB_FILENAME).stat().st_size
        _commit(store, 800)
        # Over SQLite's 1,000-page bound, and still nothing copied into the database file.
        assert _wal(data).stat().st_size > 1_000 * 4096
        assert (data / DB_FILENAME).stat().st_size == size_before
        assert len(store.audit_entries(limit=1000)) == 800


def test_the_checkpointer_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        size_before = (data / DB_FILENAME).stat().st_size
        _commit(store, checkpoint_module.CHECKPOINT_EVERY)
        _wait_for_a_checkpoint(store)
        assert (data / DB_FILENAME).stat().st_size > size_before + 100 * 4096
        # Every frame of the WAL is in the database file now.
        busy, frames, done = store._db._writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, done) == (0, frames)


def test_closing_stops_the_checkpointer_and_removes_the_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = Database.open(data)
    store = Store(db)
    _commit(store, checkpoint_module.CHECKPOINT_EVERY)
    _wait_for_a_checkpoint(store)
    store.close()
    # SQLite removes the WAL when its last connection closes: the checkpointer's too.
    assert not _wal(data).exists()
    with Store.open(data) as reopened:
        assert len(reopened.audit_entries(limit=1000)) == checkpoint_module.CHECKPOINT_EVERY
