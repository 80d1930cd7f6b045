"""Group commit: the spend writes of many requests in one transaction, so one fsync for all.

A durable SQLite commit waits for the disk (an fsync of the WAL). Payments are small writes
that each need one, and with many agents paying at once that wait, not the work, would bound
the rate. ``GroupCommit`` runs every write submitted while the previous transaction was
syncing in the next one: each write in its own savepoint (a refused one is rolled back alone
and raises for its caller only), one COMMIT for them all. A caller's future resolves only
after that COMMIT returned, so a reply sent then is on disk, as with one transaction each.

One thread owns the writes. Threads that may block wait on a ``concurrent.futures.Future``
(``submit``, ``run``); callers on an event loop may await an asyncio future (``submit_async``):
a batch's futures are settled by one callback per loop. The daemon's loop submits through
``LoopGroupCommit`` (loop_commit.py), which runs the writes on the loop and hands this thread
only the batches that find the writer taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

from signerd.errors import StoreError

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], T]
Transaction = Callable[[bool], AbstractContextManager[sqlite3.Connection]]
AnyFuture = Future[Any] | asyncio.Future[Any]
Outcome = tuple[AnyFuture, Any, BaseException | None]

LOG = logging.getLogger(__name__)
# A batch this large already makes the fsync a small share of its time; bounding it keeps
# the write lock from being held long while other writers (grants, the audit) wait.
MAX_BATCH: Final = 512


class GroupCommit:
    """Writes submitted from any thread, run in batches on one thread of their own.

    ``transaction(durable)`` opens one write transaction (the store's); ``close()`` runs
    what was submitted, then stops the thread.
    """

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._pending: list[tuple[Write[Any], bool, AnyFuture]] = []
        self._wakeup = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, write: Write[T], *, durable: bool = True) -> Future[T]:
        """Run ``write(conn)`` in the next batch; its result or exception, once committed.

        ``durable=False``: the write may share a transaction that skips the fsync (when no
        write of the batch asks for one); it survives a crash of the process, and reaches the
        disk with the next durable commit.
        """
        future: Future[T] = Future()
        self.enqueue(write, durable, future)
        return future

    def submit_async(self, write: Write[T], *, durable: bool = True) -> asyncio.Future[T]:
        """``submit`` for a caller on the running event loop: an asyncio future of it."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.enqueue(write, durable, future)
        return future

    def enqueue(self, write: Write[Any], durable: bool, future: AnyFuture) -> None:
        """Queue ``write`` for the next batch; ``future`` gets its outcome (StoreError now if
        closed)."""
        with self._wakeup:
            if self._closed:
                raise StoreError("the store is closed")
            self._pending.append((write, durable, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="signerd-group-commit", daemon=True
                )
                self._thread.start()
            self._wakeup.notify()

    def run(self, write: Write[T], *, durable: bool = True) -> T:
        """``submit`` and wait: from a thread that may block (never the event loop)."""
        return self.submit(write, durable=durable).result()

    def close(self) -> None:
        """Finish what was submitted, then stop the thread (idempotent)."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._pending and not self._closed:
                    self._wakeup.wait()
                if not self._pending:
                    return
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
            self._commit(batch)

    def _commit(self, batch: list[tuple[Write[Any], bool, AnyFuture]]) -> None:
        started = [item for item in batch if _start(item[2])]
        outcomes: list[Outcome] = []
        try:
            with self._transaction(any(durable for _, durable, _ in started)) as conn:
                for write, _, future in started:
                    outcomes.append((future, *in_savepoint(conn, write)))
        except BaseException as exc:  # the whole batch failed to commit: nothing of it holds
            LOG.warning("a batch of %d spend writes failed to commit: %s", len(started), exc)
            failure = exc if isinstance(exc, StoreError) else StoreError(f"write failed: {exc}")
            outcomes = [(future, None, failure) for _, _, future in started]
        by_loop: defaultdict[asyncio.AbstractEventLoop, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            future = outcome[0]
            if isinstance(future, asyncio.Future):
                by_loop[future.get_loop()].append(outcome)
            else:
                _settle(outcome)
        for loop, settled in by_loop.items():
            # RuntimeError: the loop was closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle_all, settled)


def _start(future: AnyFuture) -> bool:
    """Whether the write of ``future`` should run (not if its caller gave up before)."""
    if isinstance(future, asyncio.Future):
        return not future.cancelled()  # settled on its loop, so a late cancel is harmless
    return future.set_running_or_notify_cancel()


def _settle(outcome: Outcome) -> None:
    future, result, error = outcome
    if isinstance(future, asyncio.Future) and future.done():
        return  # cancelled by its caller meanwhile
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def settle_all(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        _settle(outcome)


def in_savepoint(conn: sqlite3.Connection, write: Write[Any]) -> tuple[Any, Exception | None]:
    """Run one write alone: a refusal rolls back its own statements and no other write's."""
    conn.execute("SAVEPOINT spend_write")
    try:
        result = write(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO spend_write")
        conn.execute("RELEASE spend_write")
        return None, exc
    conn.execute("RELEASE spend_write")
    return result, None
