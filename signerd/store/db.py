"""The database file: opening it, its schema migrations, and the read and write transactions.

One file, ``signerd.db``, under the data directory, in WAL mode with ``synchronous=FULL``: a
write that returned has reached the disk. Writes go through one connection and one lock, each
a ``BEGIN IMMEDIATE`` transaction that takes SQLite's single write lock up front, so a check
and the write it allows (a spend within its cap) are atomic across threads and processes.

Reads use their own connections (a small pool, one per concurrent reader), never the
writer's, and never its lock. In WAL mode a reader sees the last committed snapshot while a
writer appends and syncs, so a read on the daemon's event loop never waits for another
request's durable write (its fsync can take milliseconds on a slow disk). Nor does a commit
wait for a checkpoint: they run on a thread of their own (checkpoint.py).

The schema carries its version in ``PRAGMA user_version``; ``MIGRATIONS`` lists the steps,
applied in order inside one transaction when a database is opened. A database written by a
newer signerd is refused rather than misread.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from signerd.errors import StoreError
from signerd.safepath import private_directory
from signerd.store.checkpoint import Checkpointer
from signerd.store.schema import MIGRATIONS

log = logging.getLogger(__name__)

DB_FILENAME: Final = "signerd.db"
BUSY_TIMEOUT_MS: Final = 10_000


class Database:
    """The write connection (one at a time, behind a lock) and a pool of read connections.

    Usable from any thread. Open with ``Database.open(data_dir)``; ``close()`` when done.
    """

    def __init__(self, writer: sqlite3.Connection, path: Path) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._closed = False
        self._checkpoints = Checkpointer(path, _connect)

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        """Open (creating if needed) ``data_dir/signerd.db`` and bring its schema up to date."""
        data_dir = Path(data_dir)
        # Another user's (or a symlinked) data directory is refused: it could edit the store.
        private_directory(data_dir)
        path = data_dir / DB_FILENAME
        # Create the file ourselves so it is 0600 from the first byte; SQLite gives the -wal
        # and -shm files the database file's permissions.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        os.chmod(path, 0o600)
        writer = _connect(path)
        try:
            db = cls(writer, path)
            db._configure()
            db._migrate()
        except sqlite3.DatabaseError as exc:
            writer.close()
            raise StoreError(f"cannot open {path} as a signerd database: {exc}") from exc
        except BaseException:
            writer.close()
            raise
        return db

    def _configure(self) -> None:
        mode = self._writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            log.warning("%s: WAL mode unavailable (journal_mode=%s)", self.path, mode)
        # FULL: the WAL is synced at every commit, so a returned add_grant survives power loss.
        self._writer.execute("PRAGMA synchronous=FULL")
        self._writer.execute("PRAGMA foreign_keys=ON")
        # Checkpoints run on their own thread (checkpoint.py), never inside a commit.
        self._writer.execute("PRAGMA wal_autocheckpoint=0")

    def _migrate(self) -> None:
        with self.write() as conn:
            # Read inside the write transaction so two daemons starting at once cannot both
            # apply the same step.
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this signerd's "
                    f"{len(MIGRATIONS)}: upgrade signerd or use another data directory"
                )
            for number, steps in enumerate(MIGRATIONS[version:], start=version + 1):
                for step in steps:
                    if isinstance(step, str):
                        conn.execute(step)
                    else:
                        step(conn)
                conn.execute(f"PRAGMA user_version={number}")
                log.info("%s: migrated schema to version %d", self.path, number)

    def close(self) -> None:
        """Close every connection; readers still in use close when their read ends."""
        with self._pool_lock:
            self._closed = True
            idle, self._idle_readers = self._idle_readers, []
        for conn in idle:
            conn.close()
        self._checkpoints.close()
        with self._write_lock:
            # The last connection to close checkpoints what is left and removes the WAL.
            self._writer.close()

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its first statement.

        ``durable=False`` commits without syncing the WAL (synchronous=NORMAL for this one
        transaction): the commit is visible and survives a crash of the process, and reaches
        the disk with the next durable commit, whose sync covers every earlier WAL frame.
        A power loss can therefore only drop a tail of non-durable transactions, never leave
        a gap before a durable one.
        """
        self._write_lock.acquire()
        try:
            self._begin(durable, wait=True)
        except BaseException:
            self._write_lock.release()
            raise
        try:
            yield self._writer
        except BaseException:
            self.end_write(durable, commit=False)
            raise
        self.end_write(durable, commit=True)

    def try_begin_write(self, durable: bool) -> sqlite3.Connection | None:
        """``write``'s transaction, opened only if that needs no wait (for the event loop):
        None while a thread holds the writer or another process holds SQLite's write lock.
        End it with ``end_write``, from any thread."""
        if not self._write_lock.acquire(blocking=False):
            return None
        try:
            began = self._begin(durable, wait=False)
        except BaseException:
            self._write_lock.release()
            raise
        if not began:
            self._write_lock.release()
            return None
        return self._writer

    def _begin(self, durable: bool, *, wait: bool) -> bool:
        """BEGIN IMMEDIATE on the writer (the write lock held), synchronous=NORMAL for it if
        not ``durable``. ``wait``: for another process's write, up to BUSY_TIMEOUT_MS (then
        OperationalError); else False at once when SQLite's write lock is taken."""
        if self._closed:
            raise StoreError(f"{self.path} is closed")
        conn = self._writer
        if not wait:
            conn.execute("PRAGMA busy_timeout=0")
        try:
            if not durable:
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # "database is locked": another process writes
                if not durable:
                    conn.execute("PRAGMA synchronous=FULL")
                if wait:
                    raise
                return False
            return True
        finally:
            if not wait:
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def end_write(
        self, durable: bool, *, commit: bool, undone: Callable[[], None] | None = None
    ) -> None:
        """COMMIT (or ROLLBACK) the transaction ``write`` or ``try_begin_write`` opened, and
        free the writer.

        A COMMIT that fails is rolled back and raises: nothing of the transaction holds.
        ``undone`` runs when the transaction did not commit, before another write can start.
        """
        conn = self._writer
        try:
            try:
                if commit:
                    conn.execute("COMMIT")
                    self._checkpoints.committed()
                elif conn.in_transaction:  # SQLite may have rolled back already (an I/O error)
                    conn.execute("ROLLBACK")
            except BaseException:
                commit = False
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                if not commit and undone is not None:
                    undone()
        finally:
            try:
                if not durable:
                    conn.execute("PRAGMA synchronous=FULL")
            finally:
                self._write_lock.release()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction on a reader connection: every query sees the same snapshot.

        Takes neither the write lock nor SQLite's: it runs while a write commits and syncs.
        """
        conn = self._acquire_reader()
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._release_reader(conn)

    def _acquire_reader(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise StoreError(f"{self.path} is closed")
            if self._idle_readers:
                return self._idle_readers.pop()
        conn = _connect(self.path)
        # A reader never writes; SQLite enforces it.
        conn.execute("PRAGMA query_only=ON")
        return conn

    def _release_reader(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed:
                self._idle_readers.append(conn)
                return
        conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path,
        isolation_level=None,  # transactions are explicit BEGIN [IMMEDIATE] / COMMIT
        check_same_thread=False,  # a connection is used by one thread at a time, not always one
    )
    conn.row_factory = sqlite3.Row
    # Wait for another writer (a second daemon, the CLI) instead of failing at once.
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn
