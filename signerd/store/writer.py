"""The spend writes' transactions: the write connection with the cache that spans them.

Both ways spend writes run (GroupCommit's thread, LoopGroupCommit on the event loop) open
their transactions here, so the writer cache is begun and forgotten the same way for both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from signerd.store.db import Database
from signerd.store.windows import WriterCache


class SpendTransactions:
    """Write transactions in which the window totals may be used and moved."""

    def __init__(self, db: Database, cache: WriterCache) -> None:
        self._db = db
        self._cache = cache

    @contextmanager
    def transaction(self, durable: bool) -> Iterator[sqlite3.Connection]:
        """A write transaction, waiting for the writer (GroupCommit's thread)."""
        try:
            with self._db.write(durable=durable) as conn:
                self._cache.begin(conn)
                yield conn
        except BaseException:
            self._cache.forget()
            raise

    def try_begin(self, durable: bool) -> sqlite3.Connection | None:
        """The transaction opened without waiting (LoopGroupCommit's); None if the writer is
        taken. Ended by ``finish``."""
        conn = self._db.try_begin_write(durable)
        if conn is not None:
            try:
                self._cache.begin(conn)
            except BaseException:
                self._db.end_write(durable, commit=False, undone=self._cache.forget)
                raise
        return conn

    def finish(self, durable: bool, *, commit: bool) -> None:
        """End what ``try_begin`` opened (from the committing thread)."""
        self._db.end_write(durable, commit=commit, undone=self._cache.forget)
