"""Held session keys at rest: the keystore's description and the sealed keys.

This module stores bytes it cannot read: sealing and unsealing are signerd.payments.keystore's
job, with a secret that only the device releases. ``held_keys`` rows are written once and
never rewritten (a trigger refuses updates), so a sealed key cannot be swapped for another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from signerd.errors import StoreError
from signerd.store.db import Database


@dataclass(frozen=True)
class KeystoreRecord:
    """How this data directory's key-encryption secret is asked of the device."""

    daemon_id: str  # random, per data directory: part of what the device is asked
    method: str  # which device operation releases the secret (signerd.payments.keystore)
    path: str  # BIP-32 path the device derives it at
    account: str  # the device's account when the keystore was made (for messages)
    check_blob: bytes  # a known text sealed under the secret: tells another device apart
    created_at: float


class KeysMixin:
    """Store methods for the keystore row and the sealed held keys."""

    _db: Database

    def keystore(self) -> KeystoreRecord | None:
        """The keystore description, or None before the first key is held."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT daemon_id, method, path, account, check_blob, created_at FROM keystore"
            ).fetchone()
        if row is None:
            return None
        return KeystoreRecord(
            row["daemon_id"],
            row["method"],
            row["path"],
            row["account"],
            bytes(row["check_blob"]),
            row["created_at"],
        )

    def create_keystore(self, record: KeystoreRecord) -> KeystoreRecord:
        """Store the keystore description; the one already stored wins (returned) if any."""
        with self._db.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO keystore (id, daemon_id, method, path, account, "
                "check_blob, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                (
                    record.daemon_id,
                    record.method,
                    record.path,
                    record.account,
                    record.check_blob,
                    record.created_at,
                ),
            )
        stored = self.keystore()
        assert stored is not None
        return stored

    def add_held_key(self, address: str, sealed: bytes) -> None:
        """Store a sealed session key under its address (never replaced)."""
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM keystore").fetchone() is None:
                raise StoreError("no keystore: a held key needs the device's secret first")
            if conn.execute("SELECT 1 FROM held_keys WHERE address = ?", (address,)).fetchone():
                raise StoreError(f"a key for {address} is already held")
            conn.execute(
                "INSERT INTO held_keys (address, sealed, created_at) VALUES (?, ?, ?)",
                (address, sealed, time.time()),
            )

    def held_key(self, address: str) -> bytes | None:
        """The sealed key held for ``address``, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT sealed FROM held_keys WHERE address = ?", (address,)
            ).fetchone()
        return None if row is None else bytes(row["sealed"])

    def count_held_keys(self) -> int:
        with self._db.read() as conn:
            count: int = conn.execute("SELECT count(*) FROM held_keys").fetchone()[0]
        return count

    def held_keys(self) -> dict[str, bytes]:
        """Every held key: address (as stored, checksummed) -> sealed bytes."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT address, sealed FROM held_keys").fetchall()
        return {row["address"]: bytes(row["sealed"]) for row in rows}
