"""WAL checkpoints on a thread of their own, off the commit path.

By default SQLite checkpoints a WAL database from the connection that commits, once the WAL
holds 1,000 pages (``wal_autocheckpoint``): that commit then also copies the WAL into the
database file and syncs the file, several milliseconds on a slow disk, where the commit alone
takes a fraction of one. With one payment a commit, one payment in a hundred or so waited for
a checkpoint, and that was the single-client p99.

The writer's automatic checkpoints are turned off, and ``Checkpointer`` runs them instead on
its own connection and thread, after every ``CHECKPOINT_EVERY`` commits. PASSIVE: it never
waits for a reader or the writer and never makes them wait, so a commit never pays for it.
Durability is unchanged: a commit syncs the WAL, and the checkpoint syncs the database file
before SQLite reuses the WAL.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

LOG = logging.getLogger(__name__)

# About SQLite's own bound: a payment's commit appends ~8 pages, a grant's ~15.
CHECKPOINT_EVERY: Final = 128


class Checkpointer:
    """Checkpoints ``path``'s WAL after every CHECKPOINT_EVERY ``committed()`` calls.

    ``committed`` is called under the database's write lock, so its counting needs no lock.
    """

    def __init__(self, path: Path, connect: Callable[[Path], sqlite3.Connection]) -> None:
        self._path = path
        self._connect = connect
        self._conn: sqlite3.Connection | None = None  # the thread's own, opened on first use
        self._commits = 0
        self._queued = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="signerd-checkpoint")
        self.runs = 0  # checkpoints done (for tests and diagnostics)

    def committed(self) -> None:
        """Count a commit of the writer; every CHECKPOINT_EVERY, have the thread checkpoint."""
        self._commits += 1
        if self._commits < CHECKPOINT_EVERY or self._queued:
            return
        self._commits = 0
        self._queued = True
        # RuntimeError: closed; the last connection to close checkpoints anyway.
        with contextlib.suppress(RuntimeError):
            self._thread.submit(self._checkpoint)

    def close(self) -> None:
        """Close the thread's connection after the checkpoint it may be running (idempotent)."""
        try:
            self._thread.submit(self._disconnect)
        except RuntimeError:
            return
        self._thread.shutdown(wait=True)

    def _checkpoint(self) -> None:
        self._queued = False
        if self._conn is None:
            self._conn = self._connect(self._path)
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as exc:  # the next commits ask again
            LOG.warning("%s: WAL checkpoint failed: %s", self._path, exc)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
