"""SQLite persistence for the daemon: grants, the spend ledger, and a hash-chained audit log.

One database file, ``signerd.db``, under the data directory (``$XDG_DATA_HOME/signerd``),
in WAL mode with ``synchronous=FULL``: a call that returned has reached the disk, so an
approved grant survives a crash or a power loss (the one exception: audit entries appended
with ``durable=False``, the intermediate steps of a grant flow, reach the disk with the
flow's last, durable entry). Every write is one ``BEGIN IMMEDIATE`` transaction: a grant and
its "approved" audit entry, a revocation and its "revoked" entry, a spend and its entry are
always committed together. Reads have their own connections and never wait for a write.

The modules: ``db`` (the file, connections, transactions, migrations of ``schema``),
``grants``, ``spends`` (the ledger), ``audit`` (the chain), ``keys`` (held session keys,
sealed), ``delegations`` (a grant's on-chain delegation); ``Store`` puts them together. No
plaintext private key is ever stored: grant documents and audit details carrying a key-like
field are refused, and held keys arrive sealed.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from signerd.errors import GrantExists, StoreError
from signerd.store.audit import (
    AUDIT_EVENTS,
    AuditEvent,
    AuditMixin,
    AuditReport,
)
from signerd.store.batch import GroupCommit
from signerd.store.chain import AuditEntry, audit_hash
from signerd.store.db import BUSY_TIMEOUT_MS, DB_FILENAME, Database
from signerd.store.delegations import DelegationsMixin, StoredDelegation
from signerd.store.grants import GRANT_STATUSES, GrantsMixin, GrantStatus, StoredGrant
from signerd.store.keys import KeysMixin, KeystoreRecord
from signerd.store.loop_commit import LoopGroupCommit
from signerd.store.schema import GENESIS_HASH, SCHEMA_VERSION
from signerd.store.spend_rows import SpendRecord, SpendStatus
from signerd.store.spends import SpendsMixin
from signerd.store.values import MAX_PAGE, JSONDict
from signerd.store.windows import AllowanceBudget, WriterCache
from signerd.store.writer import SpendTransactions

__all__ = [
    "AUDIT_EVENTS",
    "BUSY_TIMEOUT_MS",
    "DB_FILENAME",
    "GENESIS_HASH",
    "GRANT_STATUSES",
    "MAX_PAGE",
    "SCHEMA_VERSION",
    "AllowanceBudget",
    "AuditEntry",
    "AuditEvent",
    "AuditReport",
    "GrantExists",
    "GrantStatus",
    "JSONDict",
    "KeystoreRecord",
    "SpendRecord",
    "SpendStatus",
    "Store",
    "StoreError",
    "StoredDelegation",
    "StoredGrant",
    "audit_hash",
]


class Store(GrantsMixin, SpendsMixin, AuditMixin, KeysMixin, DelegationsMixin):
    """The daemon's database. Usable from any thread; reads run while a write syncs.

    Open with ``Store.open(data_dir)``; use as a context manager or call ``close()``.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.path = db.path
        self._writer_cache = WriterCache()
        transactions = SpendTransactions(db, self._writer_cache)
        self._spend_writes = GroupCommit(transactions.transaction)
        self._loop_spend_writes = LoopGroupCommit(transactions, self._spend_writes)

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (creating if needed) ``data_dir/signerd.db`` and bring its schema up to date."""
        return cls(Database.open(data_dir))

    def close(self) -> None:
        """Close the database (after the spend writes already submitted); the Store cannot be
        used afterwards."""
        self._loop_spend_writes.close()
        self._spend_writes.close()
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The database's ``PRAGMA user_version``: SCHEMA_VERSION once opened."""
        with self._db.read() as conn:
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        return version
