"""The schema as migration steps: entry i moves a database from version i to i + 1.

Statements (or functions), not scripts: sqlite3's executescript() commits first, which would
break the one-transaction guarantee of a migration. Never edit a released step; append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

from signerd.store.chain import append_entry
from signerd.store.rows import row_hash

Step = str | Callable[[sqlite3.Connection], None]
"""A statement, or a function for what SQL alone cannot do (hashing rows)."""

GENESIS_HASH: Final = "00" * 32
"""The ``prev_hash`` of the first audit entry: the head of an empty chain."""

_V1_GRANTS_AND_AUDIT: Final = (
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
    "CREATE INDEX grants_created ON grants (created_at, id, revoked_at, valid_after, valid_until)",
    "CREATE INDEX grants_session ON grants"
    " (session_key, created_at, id, revoked_at, valid_after, valid_until)",
    # Revoked grants are few: a partial index finds them without walking the others.
    "CREATE INDEX grants_revoked ON grants (created_at, id) WHERE revoked_at IS NOT NULL",
    # Version 1's spend ledger (caps passed in by the caller); version 2 replaces it.
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
)

_SETTLE_ONCE: Final = """CREATE TRIGGER spends_settle_once BEFORE UPDATE ON spends
       WHEN OLD.status IS NOT 'reserved'
         OR NEW.status NOT IN ('committed', 'released')
         OR NEW.seq IS NOT OLD.seq OR NEW.key IS NOT OLD.key
         OR NEW.grant_id IS NOT OLD.grant_id OR NEW.token IS NOT OLD.token
         OR NEW.amount IS NOT OLD.amount OR NEW.payee IS NOT OLD.payee
         OR NEW.content_hash IS NOT OLD.content_hash OR NEW.at IS NOT OLD.at
       BEGIN SELECT RAISE(ABORT, 'a spend is settled once, from reserved'); END"""

_V2_SPEND_LEDGER: Final = (
    "ALTER TABLE spends RENAME TO spends_v1",
    # One row per payment, keyed by its EIP-3009 nonce (0x + 64 lowercase hex). ``at`` is the
    # Unix second the spend was reserved at: it decides which period window it counts in.
    # ``amount`` is uint256: decimal text, summed in Python.
    """CREATE TABLE spends (
        seq           INTEGER PRIMARY KEY,
        key           TEXT NOT NULL UNIQUE,
        grant_id      TEXT NOT NULL REFERENCES grants (id),
        token         TEXT NOT NULL COLLATE NOCASE,
        amount        TEXT NOT NULL,
        payee         TEXT NOT NULL COLLATE NOCASE,
        content_hash  TEXT NOT NULL,
        at            INTEGER NOT NULL,
        status        TEXT NOT NULL CHECK (status IN ('reserved', 'committed', 'released')),
        signature_ref TEXT,
        settled_at    REAL
    )""",
    # Version 1 recorded only spends that happened: they stay committed, under a key no
    # payment nonce can take, in the window of the second they were made.
    """INSERT INTO spends (seq, key, grant_id, token, amount, payee, content_hash, at, status,
                           signature_ref, settled_at)
       SELECT id, 'v1:' || id, grant_id, token, amount, '', '', CAST(ts AS INTEGER),
              'committed', reference, ts
       FROM spends_v1""",
    "DROP TABLE spends_v1",
    # The cap check sums one grant's spends of one token inside a window.
    "CREATE INDEX spends_window ON spends (grant_id, token, at)",
    # The ledger only ever moves forward: a spend is never deleted (a released reservation
    # stays, released) and only a reservation is settled, once, without changing what it was.
    """CREATE TRIGGER spends_no_delete BEFORE DELETE ON spends
       BEGIN SELECT RAISE(ABORT, 'spends are never deleted'); END""",
    _SETTLE_ONCE,
)

_V3_HELD_KEYS: Final = (
    # One row: how this data directory's key-encryption secret is asked of the device.
    # ``daemon_id`` goes into what the device is asked, so each data directory has its own
    # secret; ``check`` is a known text sealed under it, which tells "another device" apart
    # from a damaged key row. Nothing here is secret.
    """CREATE TABLE keystore (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        daemon_id  TEXT NOT NULL,
        method     TEXT NOT NULL,
        path       TEXT NOT NULL,
        account    TEXT NOT NULL COLLATE NOCASE,
        check_blob BLOB NOT NULL,
        created_at REAL NOT NULL
    )""",
    # Session keys the daemon holds, each sealed (AES-256-GCM: nonce || ciphertext || tag);
    # the plaintext never reaches the database.
    """CREATE TABLE held_keys (
        address    TEXT PRIMARY KEY COLLATE NOCASE,
        sealed     BLOB NOT NULL,
        created_at REAL NOT NULL
    )""",
    """CREATE TRIGGER held_keys_no_update BEFORE UPDATE ON held_keys
       BEGIN SELECT RAISE(ABORT, 'a held key is never rewritten'); END""",
)


def seal_existing_rows(conn: sqlite3.Connection) -> None:
    """Migration step: give every row a "sealed" audit entry with its hash as it stands.

    What was edited before the migration is sealed as it is; from here on, nothing is.
    """
    for row in conn.execute("SELECT * FROM grants ORDER BY created_at, id").fetchall():
        detail = {"table": "grants", "row_hash": row_hash("grants", row)}
        entry = append_entry(conn, "sealed", row["id"], None, detail)
        conn.execute("UPDATE grants SET audit_seq = ? WHERE id = ?", (entry.seq, row["id"]))
    # The ledger's trigger allows only settling a reservation; sealing sets audit_seq alone.
    conn.execute("DROP TRIGGER spends_settle_once")
    for row in conn.execute("SELECT * FROM spends ORDER BY seq").fetchall():
        detail = {"table": "spends", "key": row["key"], "row_hash": row_hash("spends", row)}
        entry = append_entry(conn, "sealed", row["grant_id"], None, detail)
        conn.execute("UPDATE spends SET audit_seq = ? WHERE seq = ?", (entry.seq, row["seq"]))
    conn.execute(_SETTLE_ONCE)


_V4_SEALED_ROWS: Final[tuple[Step, ...]] = (
    # The seq of the audit entry that last changed the row (signerd/store/rows.py).
    "ALTER TABLE grants ADD COLUMN audit_seq INTEGER",
    "ALTER TABLE spends ADD COLUMN audit_seq INTEGER",
    # A read checks that no revocation was recorded after the entry its grant row names.
    "CREATE INDEX audit_revocations ON audit (grant_id, seq) WHERE event = 'revoked'",
    # A uid that is not an admin lists only its own grants.
    "CREATE INDEX grants_peer ON grants (peer_uid, created_at, id)",
    seal_existing_rows,
)

_V5_DELEGATIONS: Final = (
    # A grant's on-chain delegation, signed on the device after the grant (at most one per
    # grant). ``delegation`` is the signed struct's canonical JSON, ``hash`` the id that
    # DelegationManager.disableDelegation records; sealed like grants (rows.py).
    """CREATE TABLE delegations (
        grant_id    TEXT PRIMARY KEY REFERENCES grants (id),
        chain_id    INTEGER NOT NULL,
        manager     TEXT NOT NULL COLLATE NOCASE,
        delegator   TEXT NOT NULL COLLATE NOCASE,
        hash        TEXT NOT NULL,
        delegation  TEXT NOT NULL,
        created_at  REAL NOT NULL,
        disabled_at REAL,
        disable_tx  TEXT,
        audit_seq   INTEGER
    )""",
    """CREATE TRIGGER delegations_no_delete BEFORE DELETE ON delegations
       BEGIN SELECT RAISE(ABORT, 'delegations are never deleted'); END""",
)

MIGRATIONS: Final[tuple[tuple[Step, ...], ...]] = (
    _V1_GRANTS_AND_AUDIT,
    _V2_SPEND_LEDGER,
    _V3_HELD_KEYS,
    _V4_SEALED_ROWS,
    _V5_DELEGATIONS,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
