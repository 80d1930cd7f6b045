"""SQLite persistence for the daemon: grants, the spend ledger, and a hash-chained audit log.

One database file, ``signerd.db``, under the data directory (``$XDG_DATA_HOME/signerd``).
It runs in WAL mode with ``synchronous=FULL``: a call that returned has reached the disk, so
an approved grant survives a crash or a power loss (the one exception: audit entries appended
with ``durable=False``, the intermediate steps of a grant flow, reach the disk with the flow's
last, durable entry). Every write is one ``BEGIN IMMEDIATE``
transaction, which takes SQLite's single write lock up front: a grant and its "approved"
audit entry, a revocation and its "revoked" entry, a spend and its "spent" entry are always
committed together, and two processes (or two ``Store`` objects) checking a spending cap
can never both pass on the same remaining headroom.

The schema carries its version in ``PRAGMA user_version``; ``_MIGRATIONS`` lists the steps,
applied in order inside one transaction when a database is opened. A database written by a
newer signerd is refused rather than misread.

Audit chain. Each audit row stores ``hash = sha256(prev_hash || canonical JSON of {seq, ts,
event, grant_id, peer, detail})`` (``prev_hash`` as 32 raw bytes; canonical JSON is
``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=True)``); the first
row's ``prev_hash`` is 32 zero bytes. A one-row ``audit_head`` table holds the last seq and
hash and is advanced in the same transaction as each append. Triggers make the log
append-only inside SQLite (UPDATE/DELETE abort; an INSERT must extend the head; the head
only moves forward by one entry). ``Store.verify_audit`` walks the chain and detects:

- an edited row (its hash no longer matches its contents);
- a deleted row (a gap in seq) and an inserted or re-numbered row (a broken ``prev_hash`` link
  or a seq out of order);
- a truncated tail or rows appended behind the head's back (the chain and ``audit_head``
  disagree).

What it cannot detect: someone with write access to the file who rewrites the whole chain
from the first changed row onwards and updates ``audit_head`` to match (or deletes the tail
and rewinds the head consistently). The chain makes that a deliberate act rather than an
accident; to catch it, copy the head hash that ``signerd audit --verify`` prints somewhere
the attacker cannot write (a note, another machine) and compare later: any rewrite of an
earlier entry changes every later hash.

No private key is ever stored: grant documents hold typed data and a signature, and both
grant documents and audit details are refused if they carry a key-like field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, get_args

from signerd.errors import (
    GrantExists,
    GrantNotFound,
    GrantRevoked,
    StoreError,
    ValidationError,
)

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
GrantStatus = Literal["active", "revoked", "expired", "pending"]
AuditEvent = Literal[
    "request_received",
    "shown_on_device",
    "approved",
    "rejected",
    "timed_out",
    "cancelled",
    "device_error",
    "policy_refused",
    "revoked",
    "spent",
    "spend_refused",
]

DB_FILENAME: Final = "signerd.db"
GENESIS_HASH: Final = "00" * 32
AUDIT_EVENTS: Final[frozenset[str]] = frozenset(get_args(AuditEvent))
GRANT_STATUSES: Final[frozenset[str]] = frozenset(get_args(GrantStatus))
MAX_PAGE: Final = 1000
BUSY_TIMEOUT_MS: Final = 10_000

_UINT64_LIMIT: Final = 2**64
_UINT256_LIMIT: Final = 2**256
_INT64_MAX: Final = 2**63 - 1
_GRANT_ID_RE: Final = re.compile(r"0x[0-9a-f]{64}")
# Field names that would mean a secret is about to be persisted; compared after lowercasing
# and removing "_" and "-", so privateKey / private_key / PRIVATE-KEY all match.
_SECRET_FIELDS: Final = frozenset({"privatekey", "secretkey", "mnemonic", "seed", "xprv"})


# Each entry moves the schema from version i to i + 1. Statements, not scripts: sqlite3's
# executescript() commits first, which would break the one-transaction guarantee.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # Addresses compare case-insensitively (EIP-55 checksums are only a case pattern).
        # valid_after / valid_until are uint64 in the signed data, which SQLite's signed 64-bit
        # integers cannot hold in full: stored as 20-digit zero-padded text, whose text order
        # is numeric order. nonce is uint256: text.
        """CREATE TABLE grants (
            id            TEXT PRIMARY KEY,
            account       TEXT NOT NULL COLLATE NOCASE,
            session_key   TEXT NOT NULL COLLATE NOCASE,
            chain_id      INTEGER NOT NULL,
            agent         TEXT NOT NULL,
            valid_after   TEXT NOT NULL,
            valid_until   TEXT NOT NULL,
            nonce         TEXT NOT NULL,
            document      TEXT NOT NULL,
            device        TEXT NOT NULL,
            peer_uid      INTEGER,
            created_at    REAL NOT NULL,
            revoked_at    REAL,
            revoke_reason TEXT
        )""",
        # Pages are read newest first along these indexes. They also carry the status columns,
        # so a status filter that must skip many rows reads only the index, not the documents.
        "CREATE INDEX grants_created ON grants"
        " (created_at, id, revoked_at, valid_after, valid_until)",
        "CREATE INDEX grants_session ON grants"
        " (session_key, created_at, id, revoked_at, valid_after, valid_until)",
        # Revoked grants are few: a partial index finds them without walking the others.
        "CREATE INDEX grants_revoked ON grants (created_at, id) WHERE revoked_at IS NOT NULL",
        # amount is uint256: decimal text, summed in Python.
        """CREATE TABLE spends (
            id        INTEGER PRIMARY KEY,
            grant_id  TEXT NOT NULL REFERENCES grants (id),
            token     TEXT NOT NULL COLLATE NOCASE,
            amount    TEXT NOT NULL,
            ts        REAL NOT NULL,
            reference TEXT NOT NULL
        )""",
        "CREATE INDEX spends_window ON spends (grant_id, token, ts)",
        """CREATE TABLE audit (
            seq       INTEGER PRIMARY KEY,
            ts        REAL NOT NULL,
            event     TEXT NOT NULL,
            grant_id  TEXT,
            peer      TEXT NOT NULL,
            detail    TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash      TEXT NOT NULL
        )""",
        "CREATE INDEX audit_grant ON audit (grant_id, seq) WHERE grant_id IS NOT NULL",
        """CREATE TABLE audit_head (
            id   INTEGER PRIMARY KEY CHECK (id = 1),
            seq  INTEGER NOT NULL,
            hash TEXT NOT NULL
        )""",
        f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END""",
        """CREATE TRIGGER audit_extends_head BEFORE INSERT ON audit
           WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head)
             OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head)
           BEGIN SELECT RAISE(ABORT, 'audit entry does not extend the head'); END""",
        """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
           WHEN NEW.seq IS NOT OLD.seq + 1
             OR NEW.hash IS NOT (SELECT hash FROM audit WHERE seq = NEW.seq)
           BEGIN SELECT RAISE(ABORT, 'audit head only moves to the next entry'); END""",
        """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
           BEGIN SELECT RAISE(ABORT, 'audit head cannot be deleted'); END""",
    ),
)
SCHEMA_VERSION: Final = len(_MIGRATIONS)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/signerd``, else ``~/.local/share/signerd`` (XDG ignores relative paths)."""
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "signerd"


@dataclass(frozen=True)
class StoredGrant:
    """A grant the device signed, as stored: the indexed fields plus the full document."""

    id: str
    account: str
    session_key: str
    chain_id: int
    agent: str
    valid_after: int
    valid_until: int
    nonce: int
    document: JSONDict
    device: str
    peer_uid: int | None
    created_at: float
    revoked_at: float | None = None
    revoke_reason: str | None = None

    @classmethod
    def from_document(
        cls, document: JSONDict, *, device: str, peer_uid: int | None, created_at: float
    ) -> StoredGrant:
        """The record of a signed-grant document ({"id", "typedData", "signature", "signer"})."""
        typed_data = document["typedData"]
        message = typed_data["message"]
        return cls(
            id=document["id"],
            account=message["account"],
            session_key=message["sessionKey"],
            chain_id=typed_data["domain"]["chainId"],
            agent=message["agent"],
            valid_after=message["validAfter"],
            valid_until=message["validUntil"],
            nonce=message["nonce"],
            document=document,
            device=device,
            peer_uid=peer_uid,
            created_at=created_at,
        )

    def status(self, now: float | None = None) -> GrantStatus:
        """Where the grant stands at ``now``; valid while ``valid_after <= now < valid_until``.

        The same window as signerd.grants.verify, so the store and a verifier never disagree.
        """
        at = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if at < self.valid_after:
            return "pending"
        if at >= self.valid_until:
            return "expired"
        return "active"


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit chain."""

    seq: int
    ts: float
    event: str
    grant_id: str | None
    peer: JSONDict | None
    detail: JSONDict | None
    prev_hash: str
    hash: str

    def to_json(self) -> JSONDict:
        """The entry as a JSON object, with everything needed to recompute its hash."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "event": self.event,
            "grant_id": self.grant_id,
            "peer": self.peer,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class AuditReport:
    """The outcome of walking the audit chain: ``bad_seq``/``reason`` name the first problem."""

    ok: bool
    count: int
    head: str
    bad_seq: int | None = None
    reason: str | None = None


def _canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def audit_hash(
    prev_hash: str,
    *,
    seq: int,
    ts: float,
    event: str,
    grant_id: str | None,
    peer: JSONDict | None,
    detail: JSONDict | None,
) -> str:
    """The chain hash of one entry (hex), so that an exported log can be checked without signerd."""
    body = {
        "seq": seq,
        "ts": ts,
        "event": event,
        "grant_id": grant_id,
        "peer": peer,
        "detail": detail,
    }
    return hashlib.sha256(bytes.fromhex(prev_hash) + _canonical_json(body).encode()).hexdigest()


def _json_object(field: str, value: JSONDict | None) -> JSONDict | None:
    """The value as it reads back from storage (so hashes recompute), or ValidationError."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(field, "must be a JSON object")
    try:
        normal: JSONDict = json.loads(_canonical_json(value))
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"not JSON-serialisable: {exc}") from exc
    _refuse_secrets(field, normal)
    return normal


def _refuse_secrets(field: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.lower().replace("_", "").replace("-", "") in _SECRET_FIELDS:
                raise ValidationError(f"{field}.{key}", "secrets are never stored")
            _refuse_secrets(f"{field}.{key}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_secrets(f"{field}.{index}", item)


def _check_uint(field: str, value: int, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise ValidationError(field, f"must be an integer in [0, 2**{limit.bit_length() - 1})")


def _u64_text(value: int) -> str:
    return f"{value:020d}"


def _validate_grant(grant: StoredGrant) -> None:
    if not isinstance(grant.id, str) or not _GRANT_ID_RE.fullmatch(grant.id):
        raise ValidationError("id", "must be 0x followed by 64 lowercase hex digits")
    _check_uint("chain_id", grant.chain_id, _INT64_MAX + 1)
    _check_uint("valid_after", grant.valid_after, _UINT64_LIMIT)
    _check_uint("valid_until", grant.valid_until, _UINT64_LIMIT)
    _check_uint("nonce", grant.nonce, _UINT256_LIMIT)
    if grant.document.get("id", grant.id) != grant.id:
        raise ValidationError("document.id", "does not match the grant id")


def _grant_from_row(row: sqlite3.Row) -> StoredGrant:
    return StoredGrant(
        id=row["id"],
        account=row["account"],
        session_key=row["session_key"],
        chain_id=row["chain_id"],
        agent=row["agent"],
        valid_after=int(row["valid_after"]),
        valid_until=int(row["valid_until"]),
        nonce=int(row["nonce"]),
        document=json.loads(row["document"]),
        device=row["device"],
        peer_uid=row["peer_uid"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        revoke_reason=row["revoke_reason"],
    )


def _entry_from_row(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        ts=row["ts"],
        event=row["event"],
        grant_id=row["grant_id"],
        peer=json.loads(row["peer"]),
        detail=json.loads(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _status_clause(status: GrantStatus, now: float) -> tuple[str, list[Any]]:
    """SQL equal to ``StoredGrant.status(now) == status``."""
    # The bounds are integers, so comparing them with floor(now) is exact:
    # b <= now <=> b <= floor(now), and b > now <=> b > floor(now).
    floor_now = _u64_text(min(max(math.floor(now), 0), _UINT64_LIMIT - 1))
    if status == "revoked":
        return "revoked_at IS NOT NULL", []
    if status == "pending":
        return "revoked_at IS NULL AND valid_after > ?", [floor_now]
    if status == "expired":
        return "revoked_at IS NULL AND valid_after <= ? AND valid_until <= ?", [floor_now] * 2
    return "revoked_at IS NULL AND valid_after <= ? AND valid_until > ?", [floor_now] * 2


class Store:
    """The daemon's database. Usable from any thread, one call at a time (an internal lock).

    Open with ``Store.open(data_dir)``; use as a context manager or call ``close()``.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (creating if needed) ``data_dir/signerd.db`` and bring its schema up to date."""
        data_dir = Path(data_dir)
        if not data_dir.exists():
            data_dir.mkdir(mode=0o700, parents=True)
            # mkdir's mode is filtered by the umask; the directory must end up private.
            os.chmod(data_dir, 0o700)
        elif stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
            log.warning("data directory %s is accessible to other users", data_dir)
        path = data_dir / DB_FILENAME
        # Create the file ourselves so it is 0600 from the first byte; SQLite gives the -wal
        # and -shm files the database file's permissions.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        conn = sqlite3.connect(
            path,
            isolation_level=None,  # transactions are explicit BEGIN IMMEDIATE / COMMIT
            check_same_thread=False,  # the lock below serialises use across threads
        )
        conn.row_factory = sqlite3.Row
        try:
            store = cls(conn, path)
            store._configure()
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot open {path} as a signerd database: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return store

    def _configure(self) -> None:
        # Wait for another writer (a second daemon, the CLI) instead of failing at once.
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            log.warning("%s: WAL mode unavailable (journal_mode=%s)", self.path, mode)
        # FULL: the WAL is synced at every commit, so a returned add_grant survives power loss.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    def _migrate(self) -> None:
        with self._write() as conn:
            # Read inside the write transaction so two daemons starting at once cannot both
            # apply the same step.
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this signerd's "
                    f"{SCHEMA_VERSION}: upgrade signerd or use another data directory"
                )
            for number, steps in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in steps:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={number}")
                log.info("%s: migrated schema to version %d", self.path, number)

    def close(self) -> None:
        """Close the connection; the Store cannot be used afterwards."""
        with self._lock:
            self._conn.close()

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
        with self._lock:
            version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
            return version

    @contextmanager
    def _write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock from its first statement.

        ``durable=False`` commits without syncing the WAL (synchronous=NORMAL for this one
        transaction): the commit is visible and survives a crash of the process, and reaches
        the disk with the next durable commit, whose sync covers every earlier WAL frame.
        A power loss can therefore only drop a tail of non-durable transactions, never leave
        a gap before a durable one.
        """
        with self._lock:
            if not durable:
                self._conn.execute("PRAGMA synchronous=NORMAL")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            finally:
                if not durable:
                    self._conn.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same snapshot."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    # Grants

    def add_grant(
        self,
        grant: StoredGrant,
        *,
        audit_detail: JSONDict | None = None,
        peer: JSONDict | None = None,
    ) -> None:
        """Store a signed grant and its "approved" audit entry, in one transaction.

        ``peer`` is the requester as the daemon saw it (uid, pid, exe); it defaults to
        ``{"uid": grant.peer_uid}``. Raises GrantExists for a grant already stored.
        """
        self.add_grants([grant], audit_detail=audit_detail, peer=peer)

    def add_grants(
        self,
        grants: Iterable[StoredGrant],
        *,
        audit_detail: JSONDict | None = None,
        peer: JSONDict | None = None,
    ) -> None:
        """``add_grant`` for many grants in one transaction (one sync): all are stored or none.

        For bulk loads (an import, a benchmark's setup): a transaction per grant costs a disk
        sync per grant.
        """
        rows = [self._grant_row(grant, audit_detail, peer) for grant in grants]
        with self._write() as conn:
            for grant, values, row_peer, detail in rows:
                try:
                    conn.execute(
                        "INSERT INTO grants (id, account, session_key, chain_id, agent,"
                        " valid_after, valid_until, nonce, document, device, peer_uid,"
                        " created_at, revoked_at, revoke_reason)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        values,
                    )
                except sqlite3.IntegrityError as exc:
                    if conn.execute("SELECT 1 FROM grants WHERE id = ?", (grant.id,)).fetchone():
                        raise GrantExists(f"grant {grant.id} is already stored") from exc
                    raise
                self._append(conn, "approved", grant.id, row_peer, detail)

    @staticmethod
    def _grant_row(
        grant: StoredGrant, audit_detail: JSONDict | None, peer: JSONDict | None
    ) -> tuple[StoredGrant, tuple[Any, ...], JSONDict | None, JSONDict | None]:
        """The checked grants-table values of a grant, and its audit entry's peer and detail."""
        _validate_grant(grant)
        document = _json_object("document", grant.document)
        detail = _json_object(
            "audit_detail",
            {
                "account": grant.account,
                "session_key": grant.session_key,
                "chain_id": grant.chain_id,
                "valid_after": grant.valid_after,
                "valid_until": grant.valid_until,
                "device": grant.device,
                **(audit_detail or {}),
            },
        )
        if peer is None and grant.peer_uid is not None:
            peer = {"uid": grant.peer_uid}
        values = (
            grant.id,
            grant.account,
            grant.session_key,
            grant.chain_id,
            grant.agent,
            _u64_text(grant.valid_after),
            _u64_text(grant.valid_until),
            str(grant.nonce),
            _canonical_json(document),
            grant.device,
            grant.peer_uid,
            grant.created_at,
            grant.revoked_at,
            grant.revoke_reason,
        )
        return grant, values, _json_object("peer", peer), detail

    def get_grant(self, grant_id: str) -> StoredGrant | None:
        """The grant with that id, or None."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        return None if row is None else _grant_from_row(row)

    def list_grants(
        self,
        *,
        session_key: str | None = None,
        status: GrantStatus | None = None,
        now: float | None = None,
        limit: int = 50,
        before_created: float | None = None,
        before_id: str | None = None,
    ) -> list[StoredGrant]:
        """Grants newest first, at most ``limit`` (1..1000).

        Keyset pagination: pass the last grant's ``created_at`` as ``before_created`` (and its
        ``id`` as ``before_id``, so grants created in the same instant are neither skipped nor
        repeated) to get the next page. ``status`` is judged at ``now`` (default: the clock).
        """
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError("limit", f"must be between 1 and {MAX_PAGE}")
        if before_id is not None and before_created is None:
            raise ValidationError("before_id", "needs before_created")
        clauses: list[str] = []
        params: list[Any] = []
        if session_key is not None:
            clauses.append("session_key = ?")
            params.append(session_key)
        if status is not None:
            if status not in GRANT_STATUSES:
                raise ValidationError("status", f"must be one of {sorted(GRANT_STATUSES)}")
            clause, values = _status_clause(status, time.time() if now is None else now)
            clauses.append(clause)
            params.extend(values)
        if before_created is not None and before_id is not None:
            clauses.append("(created_at, id) < (?, ?)")
            params.extend([before_created, before_id])
        elif before_created is not None:
            clauses.append("created_at < ?")
            params.append(before_created)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM grants {where} ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(query, [*params, limit]).fetchall()
        return [_grant_from_row(row) for row in rows]

    def revoke_grant(self, grant_id: str, *, reason: str, peer_uid: int | None) -> StoredGrant:
        """Mark the grant revoked and audit it, in one transaction; returns the revoked grant.

        Raises GrantNotFound for an unknown id and GrantRevoked if it was already revoked.
        """
        with self._write() as conn:
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
            if row is None:
                raise GrantNotFound(f"no grant {grant_id}")
            if row["revoked_at"] is not None:
                raise GrantRevoked(f"grant {grant_id} was already revoked")
            revoked_at = time.time()
            conn.execute(
                "UPDATE grants SET revoked_at = ?, revoke_reason = ? WHERE id = ?",
                (revoked_at, reason, grant_id),
            )
            peer = None if peer_uid is None else {"uid": peer_uid}
            self._append(conn, "revoked", grant_id, peer, {"reason": reason})
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        return _grant_from_row(row)

    # Spend ledger

    def try_spend(
        self,
        grant_id: str,
        *,
        token: str,
        amount: int,
        cap: int,
        period: int,
        now: float,
        reference: str,
    ) -> bool:
        """Record a spend if the grant's spends of ``token`` in the window stay within ``cap``.

        The window is ``[now - period, now]`` (``period`` 0: the grant's whole life). Checking
        and recording happen under SQLite's write lock, so concurrent callers (threads or
        processes) can never together exceed the cap. Returns False, with a "spend_refused"
        audit entry, when over the cap or when the grant is not active at ``now``; raises
        GrantNotFound / GrantRevoked for an unknown or revoked grant.
        """
        _check_uint("amount", amount, _UINT256_LIMIT)
        _check_uint("cap", cap, _UINT256_LIMIT)
        _check_uint("period", period, _UINT64_LIMIT)
        if amount == 0:
            raise ValidationError("amount", "must be positive")
        since = 0.0 if period == 0 else now - period
        with self._write() as conn:
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
            if row is None:
                raise GrantNotFound(f"no grant {grant_id}")
            grant = _grant_from_row(row)
            if grant.revoked_at is not None:
                raise GrantRevoked(f"grant {grant_id} is revoked")
            total = self._sum_spends(conn, grant_id, token, since)
            detail: JSONDict = {
                "token": token,
                # uint256 values as decimal strings: JSON readers outside Python lose precision.
                "amount": str(amount),
                "cap": str(cap),
                "period": period,
                "spent_before": str(total),
                "reference": reference,
            }
            grant_status = grant.status(now)
            if grant_status != "active":
                self._append(
                    conn, "spend_refused", grant_id, None, {**detail, "reason": grant_status}
                )
                return False
            if total + amount > cap:
                self._append(
                    conn, "spend_refused", grant_id, None, {**detail, "reason": "over cap"}
                )
                return False
            conn.execute(
                "INSERT INTO spends (grant_id, token, amount, ts, reference)"
                " VALUES (?, ?, ?, ?, ?)",
                (grant_id, token, str(amount), now, reference),
            )
            self._append(conn, "spent", grant_id, None, detail)
            return True

    def spent(self, grant_id: str, token: str, since: float) -> int:
        """The sum of the grant's recorded spends of ``token`` at or after ``since``."""
        with self._read() as conn:
            return self._sum_spends(conn, grant_id, token, since)

    @staticmethod
    def _sum_spends(conn: sqlite3.Connection, grant_id: str, token: str, since: float) -> int:
        # Amounts are uint256 text; SQLite's SUM would overflow at 2**63.
        rows = conn.execute(
            "SELECT amount FROM spends WHERE grant_id = ? AND token = ? AND ts >= ?",
            (grant_id, token, since),
        )
        return sum(int(amount) for (amount,) in rows)

    # Audit log

    def append_audit(
        self,
        event: str,
        *,
        grant_id: str | None = None,
        peer: JSONDict | None = None,
        detail: JSONDict | None = None,
        durable: bool = True,
    ) -> AuditEntry:
        """Append one entry to the audit chain (its own transaction) and return it.

        ``event`` is one of AUDIT_EVENTS (the AuditEvent literals); others are refused.
        ``durable=False`` is for the intermediate steps of a flow whose last entry is durable
        (a grant request: received, shown, then approved/rejected/...): the entry is
        committed at once but synced to disk with that last entry, which saves a sync per
        step. Until then a power loss may drop it (and only it and later entries).
        """
        if event not in AUDIT_EVENTS:
            raise ValidationError("event", f"unknown audit event {event!r}")
        peer = _json_object("peer", peer)
        detail = _json_object("detail", detail)
        with self._write(durable=durable) as conn:
            return self._append(conn, event, grant_id, peer, detail)

    @staticmethod
    def _append(
        conn: sqlite3.Connection,
        event: str,
        grant_id: str | None,
        peer: JSONDict | None,
        detail: JSONDict | None,
    ) -> AuditEntry:
        """Append inside the caller's write transaction; peer/detail already normalised."""
        head_seq, head_hash = conn.execute("SELECT seq, hash FROM audit_head").fetchone()
        seq = head_seq + 1
        ts = time.time()
        digest = audit_hash(
            head_hash, seq=seq, ts=ts, event=event, grant_id=grant_id, peer=peer, detail=detail
        )
        conn.execute(
            "INSERT INTO audit (seq, ts, event, grant_id, peer, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                ts,
                event,
                grant_id,
                _canonical_json(peer),
                _canonical_json(detail),
                head_hash,
                digest,
            ),
        )
        conn.execute("UPDATE audit_head SET seq = ?, hash = ?", (seq, digest))
        return AuditEntry(seq, ts, event, grant_id, peer, detail, head_hash, digest)

    def audit_entries(
        self, *, after_seq: int = 0, limit: int = 1000, grant_id: str | None = None
    ) -> list[AuditEntry]:
        """Entries with seq > ``after_seq`` in order, at most ``limit``; optionally one grant's."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationError("limit", f"must be between 1 and {MAX_PAGE}")
        query = "SELECT * FROM audit WHERE seq > ?"
        params: list[Any] = [after_seq]
        if grant_id is not None:
            query += " AND grant_id = ?"
            params.append(grant_id)
        query += " ORDER BY seq LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._conn.execute(query, params).fetchall()
        return [_entry_from_row(row) for row in rows]

    def verify_audit(self) -> AuditReport:
        """Walk the whole chain and compare its end with ``audit_head``; the first problem wins."""
        with self._read() as conn:
            head = conn.execute("SELECT seq, hash FROM audit_head").fetchall()
            count = 0
            expected_seq, prev = 1, GENESIS_HASH
            for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
                bad = self._check_entry(row, expected_seq, prev)
                if bad is not None:
                    return AuditReport(False, count, prev, bad[0], bad[1])
                count += 1
                expected_seq, prev = row["seq"] + 1, row["hash"]
        last_seq = expected_seq - 1
        if len(head) != 1:
            return AuditReport(False, count, prev, None, "the audit head record is missing")
        head_seq, head_hash = head[0]
        if last_seq < head_seq:
            return AuditReport(
                False,
                count,
                prev,
                last_seq + 1,
                f"entries {last_seq + 1}..{head_seq} are missing: the log was truncated",
            )
        if last_seq > head_seq:
            return AuditReport(
                False, count, prev, head_seq + 1, f"entries after seq {head_seq} bypassed the head"
            )
        if head_hash != prev:
            return AuditReport(False, count, prev, head_seq, "the head hash does not match the log")
        return AuditReport(True, count, prev)

    @staticmethod
    def _check_entry(row: sqlite3.Row, expected_seq: int, prev: str) -> tuple[int, str] | None:
        seq = row["seq"]
        if seq < expected_seq:
            return seq, f"seq {seq} out of order (expected {expected_seq})"
        if seq > expected_seq:
            return expected_seq, f"entry {expected_seq} is missing"
        if row["prev_hash"] != prev:
            return seq, "prev_hash does not link to the previous entry"
        try:
            digest = audit_hash(
                prev,
                seq=seq,
                ts=row["ts"],
                event=row["event"],
                grant_id=row["grant_id"],
                peer=json.loads(row["peer"]),
                detail=json.loads(row["detail"]),
            )
        except (TypeError, ValueError) as exc:
            return seq, f"entry is unreadable: {exc}"
        if digest != row["hash"]:
            return seq, "hash does not match the entry's contents"
        return None
