"""LoopGroupCommit: writes run on the event loop in batches, the COMMIT in a thread; a batch
goes to GroupCommit's thread when the writer is taken, so the loop never waits for a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from signerd.errors import StoreError, ValidationError
from signerd.store.batch import GroupCommit
from signerd.store.loop_commit import LoopGroupCommit
from tests.store.test_batch import Table, insert


class SplitTable(Table):
    """Table's transactions, also opened without waiting and ended from another thread."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.lock = threading.Lock()
        self.commit_threads: list[str] = []
        self.undone = 0

    def try_begin(self, durable: bool) -> sqlite3.Connection | None:
        if not self.lock.acquire(blocking=False):
            return None
        self.transactions.append(durable)
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def finish(self, durable: bool, *, commit: bool) -> None:
        self.commit_threads.append(threading.current_thread().name)
        try:
            if commit and self.fail_commit:
                self.conn.execute("ROLLBACK")
                self.undone += 1
                raise sqlite3.OperationalError("disk I/O error")
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
        finally:
            self.lock.release()

    @contextmanager
    def locked_transaction(self, durable: bool) -> Iterator[sqlite3.Connection]:
        """``transaction`` under the same lock: the fallback thread's way in."""
        with self.lock, self.transaction(durable) as conn:
            yield conn


def make(tmp_path: Path) -> tuple[SplitTable, GroupCommit, LoopGroupCommit]:
    table = SplitTable(tmp_path / "t.db")
    fallback = GroupCommit(table.locked_transaction)
    return table, fallback, LoopGroupCommit(table, fallback)


def test_one_turn_of_writes_is_one_transaction_committed_off_the_loop(tmp_path: Path) -> None:
    table, fallback, batch = make(tmp_path)

    async def scenario() -> list[object]:
        futures = [batch.submit(insert(n, refuse=n == 2), durable=n == 0) for n in range(5)]
        return await asyncio.gather(*futures, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    batch.close()
    fallback.close()
    assert outcomes[:2] == [0, 1] and outcomes[3:] == [3, 4]
    assert isinstance(outcomes[2], ValidationError)
    assert table.values() == [0, 1, 3, 4]
    # One transaction, synced because one write asked for it, committed by the commit thread.
    assert table.transactions == [True]
    assert table.commit_threads and table.commit_threads[0].startswith("signerd-commit")


def test_a_taken_writer_sends_the_batch_to_the_thread_and_the_loop_runs_on(
    tmp_path: Path,
) -> None:
    table, fallback, batch = make(tmp_path)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:  # a grant write of another thread holding the writer
        with table.lock:
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)

    async def scenario() -> tuple[list[int], float]:
        futures = [batch.submit(insert(n)) for n in range(3)]
        started = time.monotonic()
        await asyncio.sleep(0.2)  # the loop is free while the writer is taken
        responsive = time.monotonic() - started
        assert not any(future.done() for future in futures)
        release.set()
        return list(await asyncio.gather(*futures)), responsive

    values, responsive = asyncio.run(scenario())
    holder.join()
    batch.close()
    fallback.close()
    assert values == [0, 1, 2]
    assert responsive < 1.0
    assert table.values() == [0, 1, 2]
    assert table.commit_threads == []  # the fallback committed it, in its own transaction


def test_a_failed_commit_fails_every_write_of_the_batch_and_the_next_batch_runs(
    tmp_path: Path,
) -> None:
    table, fallback, batch = make(tmp_path)

    async def scenario() -> tuple[list[object], int]:
        table.fail_commit = True
        failed = await asyncio.gather(
            *(batch.submit(insert(n)) for n in range(3)), return_exceptions=True
        )
        table.fail_commit = False
        return failed, await batch.submit(insert(9))

    failed, after = asyncio.run(scenario())
    batch.close()
    fallback.close()
    assert all(isinstance(outcome, StoreError) for outcome in failed)
    assert after == 9
    assert table.values() == [9]
    assert table.undone == 1


def test_closed_means_closed(tmp_path: Path) -> None:
    table, fallback, batch = make(tmp_path)

    async def scenario() -> None:
        assert await batch.submit(insert(1)) == 1
        batch.close()
        fallback.close()
        with pytest.raises(StoreError):
            await batch.submit(insert(2))

    asyncio.run(scenario())
    assert table.values() == [1]
