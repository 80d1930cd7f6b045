"""Group commit: the spend writes of many requests in one transaction, so one fsync for all.

A durable SQLite commit waits for the disk (an fsync of the WAL). Payments are small writes
that each need one, and with many agents paying at once that wait, not the work, would bound
the rate. ``GroupCommit`` runs every write submitted while the previous transaction was
syncing in the next one: each write in its own savepoint (a refused one is rolled back alone
and raises for its caller only), one COMMIT for them all. A caller's future resolves only
after that COMMIT returned, so a reply sent then is on disk, as with one transaction each.

One thread owns the writes; callers wait on a ``concurrent.futures.Future`` (from threads)
or ``asyncio.wrap_future`` of it (from the event loop, which never blocks).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Final, TypeVar

from signerd.errors import StoreError

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], T]
Transaction = Callable[[bool], AbstractContextManager[sqlite3.Connection]]

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
        self._pending: list[tuple[Write[Any], bool, Future[Any]]] = []
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
        return future

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

    def _commit(self, batch: list[tuple[Write[Any], bool, Future[Any]]]) -> None:
        started = [item for item in batch if item[2].set_running_or_notify_cancel()]
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self._transaction(any(durable for _, durable, _ in started)) as conn:
                for write, _, future in started:
                    outcomes.append((future, *_in_savepoint(conn, write)))
        except BaseException as exc:  # the whole batch failed to commit: nothing of it holds
            LOG.warning("a batch of %d spend writes failed to commit: %s", len(started), exc)
            failure = exc if isinstance(exc, StoreError) else StoreError(f"write failed: {exc}")
            for _, _, future in started:
                future.set_exception(failure)
            return
        for future, result, error in outcomes:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)


def _in_savepoint(conn: sqlite3.Connection, write: Write[Any]) -> tuple[Any, Exception | None]:
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
