"""Group commit run by the event loop: the writes on the loop, only the COMMIT in a thread.

``GroupCommit`` runs spend writes on a thread of its own. In one process that thread and the
event loop share the GIL, and both are busy when agents pay at once: the loop parsing,
checking and signing, the writer reading, sealing and chaining rows. Every SQLite statement
and every secp256k1 call releases the GIL for a few microseconds and the other thread takes
it, so each payment paid for dozens of hand-overs between two busy threads: at 50 paying
clients a payment cost 900 us of CPU, against about 600 us with the writes on the loop.

``LoopGroupCommit`` runs the writes of a batch on the event loop itself, one after the other
as the loop would run any other short work, and hands the thread only the COMMIT, which waits
for the disk without the GIL. Writes submitted meanwhile form the next batch, as before. When
the writer connection is taken (a grant being stored from a thread, another process holding
SQLite's lock) the batch goes to the ``GroupCommit`` thread instead, so the loop never waits
for a lock. What a caller sees does not change: its future resolves after the COMMIT of its
batch returned, with its write's result or its error alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sqlite3
from typing import Any, Final, Protocol, TypeVar

from signerd.errors import StoreError
from signerd.store.batch import GroupCommit, Outcome, Write, in_savepoint, settle_all

T = TypeVar("T")
LOG = logging.getLogger(__name__)
# The loop runs a batch's writes in one go (~0.15 ms each): a bound keeps other clients'
# requests from waiting behind a long one.
MAX_LOOP_BATCH: Final = 64

Pending = tuple[Write[Any], bool, "asyncio.Future[Any]"]


class SplitTransaction(Protocol):
    """A write transaction opened without waiting and ended from another thread."""

    def try_begin(self, durable: bool) -> sqlite3.Connection | None:
        """The open transaction, or None when the writer is taken (then nothing was done)."""

    def finish(self, durable: bool, *, commit: bool) -> None:
        """COMMIT (or ROLLBACK) what ``try_begin`` opened and free the writer; raises if the
        COMMIT failed (then nothing of the transaction holds)."""


class LoopGroupCommit:
    """Spend writes from the event loop, batched; ``fallback`` runs a batch when the writer
    is taken, and everything once closed."""

    def __init__(self, transaction: SplitTransaction, fallback: GroupCommit) -> None:
        self._transaction = transaction
        self._fallback = fallback
        self._pending: list[Pending] = []
        self._running = False  # a batch is being written or committed
        self._committer = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="signerd-commit"
        )
        self._closed = False

    def submit(self, write: Write[T], *, durable: bool = True) -> asyncio.Future[T]:
        """Run ``write(conn)`` in the next batch; an asyncio future of its result, resolved
        once its batch committed (``durable=False``: as ``GroupCommit.submit``)."""
        if self._closed:
            return self._fallback.submit_async(write, durable=durable)  # raises StoreError
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((write, durable, future))
        if not self._running:
            self._running = True
            # Not at once: what other requests submit in this turn of the loop joins.
            loop.call_soon(self._next_batch, loop)
        return future

    def close(self) -> None:
        """Wait for the batch being committed; what was not started runs on the fallback."""
        self._closed = True
        pending, self._pending = self._pending, []
        self._hand_over(pending)
        self._committer.shutdown(wait=True)

    def _next_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = [item for item in self._pending[:MAX_LOOP_BATCH] if not item[2].cancelled()]
        del self._pending[:MAX_LOOP_BATCH]
        if not batch:
            self._continue(loop)
            return
        durable = any(item[1] for item in batch)
        conn = None if self._closed else self._transaction.try_begin(durable)
        if conn is None:
            self._hand_over(batch)
            self._continue(loop)
            return
        try:
            outcomes: list[Outcome] = [
                (future, *in_savepoint(conn, write)) for write, _, future in batch
            ]
        except BaseException as exc:  # the connection failed under a write: end it here
            with contextlib.suppress(Exception):
                self._transaction.finish(durable, commit=False)
            settle_all([(future, None, _store_error(exc)) for _, _, future in batch])
            self._continue(loop)
            raise
        commit = self._committer.submit(self._transaction.finish, durable, commit=True)
        commit.add_done_callback(
            lambda done: _call_soon(loop, self._committed, loop, done, outcomes)
        )

    def _committed(
        self,
        loop: asyncio.AbstractEventLoop,
        commit: concurrent.futures.Future[None],
        outcomes: list[Outcome],
    ) -> None:
        error = commit.exception()
        if error is not None:
            LOG.warning("a batch of %d spend writes failed to commit: %s", len(outcomes), error)
            failure = _store_error(error)
            outcomes = [(future, None, failure) for future, _, _ in outcomes]
        settle_all(outcomes)
        self._continue(loop)

    def _continue(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._pending:
            loop.call_soon(self._next_batch, loop)
        else:
            self._running = False

    def _hand_over(self, batch: list[Pending]) -> None:
        """Run ``batch`` on the fallback's thread; its futures resolve the same way."""
        for write, durable, future in batch:
            try:
                self._fallback.enqueue(write, durable, future)
            except StoreError as exc:  # closed: nobody will run it
                if not future.done():
                    future.set_exception(exc)


def _store_error(exc: BaseException) -> StoreError:
    return exc if isinstance(exc, StoreError) else StoreError(f"write failed: {exc}")


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    # RuntimeError: the loop was closed, so nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)
