"""Group commit: writes of many callers in one transaction, each refused alone, all or nothing
at the commit, with the futures of threads and of event loops."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from signerd.errors import StoreError, ValidationError
from signerd.store.batch import GroupCommit, Write


class Table:
    """A bare SQLite table and the transactions a GroupCommit runs writes in."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("CREATE TABLE t (v INTEGER UNIQUE)")
        self.transactions: list[bool] = []
        self.fail_commit = False

    @contextmanager
    def transaction(self, durable: bool) -> Iterator[sqlite3.Connection]:
        self.transactions.append(durable)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            if self.fail_commit:
                raise sqlite3.OperationalError("disk I/O error")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def values(self) -> list[int]:
        return [v for (v,) in self.conn.execute("SELECT v FROM t ORDER BY v")]


def insert(value: int, refuse: bool = False) -> Write[int]:
    def write(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
        if refuse:
            raise ValidationError("v", f"{value} refused after its insert")
        return value

    return write


def test_a_refused_write_rolls_back_alone(tmp_path: Path) -> None:
    table = Table(tmp_path / "t.db")
    batch = GroupCommit(table.transaction)
    writer_busy, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        writer_busy.set()
        release.wait(10)

    async def scenario() -> list[object]:
        held = batch.submit_async(hold, durable=False)
        assert await asyncio.to_thread(writer_busy.wait, 10)
        # Submitted while the writer is busy: all six go into the next transaction.
        futures = [
            batch.submit_async(insert(n, refuse=n == 3), durable=n % 2 == 0) for n in range(6)
        ]
        release.set()
        await held
        return await asyncio.gather(*futures, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    batch.close()
    assert outcomes[:3] == [0, 1, 2] and outcomes[4:] == [4, 5]
    assert isinstance(outcomes[3], ValidationError)
    assert table.values() == [0, 1, 2, 4, 5]
    # One transaction for the held write (not synced), one for the six, synced because some
    # of them asked for it.
    assert table.transactions == [False, True]


def test_a_failed_commit_fails_every_write_of_the_batch(tmp_path: Path) -> None:
    table = Table(tmp_path / "t.db")
    table.fail_commit = True
    batch = GroupCommit(table.transaction)
    futures = [batch.submit(insert(n)) for n in range(3)]
    for future in futures:
        with pytest.raises(StoreError):
            future.result(timeout=10)
    batch.close()
    assert table.values() == []


def test_closed_means_closed(tmp_path: Path) -> None:
    table = Table(tmp_path / "t.db")
    batch = GroupCommit(table.transaction)
    assert batch.run(insert(7)) == 7
    batch.close()
    batch.close()
    with pytest.raises(StoreError):
        batch.submit(insert(8))
    assert table.values() == [7]
