"""Tests of signerd.store.db: opening, migrations, write and read transactions, crash safety."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from signerd import store as store_module
from signerd.errors import StoreError
from signerd.store import DB_FILENAME, SCHEMA_VERSION, Store, StoredGrant
from signerd.store import db as db_module
from signerd.store.chain import append_entry
from tests.store.support import DAY, START, raw, spend_grant
from tests.support import USDC_BASE

FULL = 2  # PRAGMA synchronous value


# Migrations and opening


def test_fresh_database_has_latest_schema(store: Store, tmp_path: Path) -> None:
    assert store.schema_version == SCHEMA_VERSION >= 1
    conn = raw(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_refuses_to_open(tmp_path: Path) -> None:
    Store.open(tmp_path / "data").close()
    conn = raw(tmp_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this signerd"):
        Store.open(tmp_path / "data")


def test_failed_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(tmp_path / "data").close()
    broken_step = ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL")
    monkeypatch.setattr(db_module, "MIGRATIONS", (*db_module.MIGRATIONS, broken_step))
    with pytest.raises(StoreError):
        Store.open(tmp_path / "data")
    conn = raw(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'extra'").fetchone() is None


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DB_FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        Store.open(tmp_path / "data")


def test_version_1_spends_stay_counted_after_the_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    grant = spend_grant(1, [(USDC_BASE, 100, DAY)])
    with monkeypatch.context() as version_1:
        version_1.setattr(db_module, "MIGRATIONS", db_module.MIGRATIONS[:1])
        with Store.open(data) as old:
            assert old.schema_version == 1
    conn = raw(tmp_path)
    # As version 1 stored a grant (its audit entry aside, which this test does not need).
    conn.execute(
        "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            grant.id,
            grant.account,
            grant.session_key,
            grant.chain_id,
            grant.agent,
            f"{grant.valid_after:020d}",
            f"{grant.valid_until:020d}",
            str(grant.nonce),
            json.dumps(grant.document),
            grant.device,
            grant.peer_uid,
            grant.created_at,
            None,
            None,
        ),
    )
    conn.execute(
        "INSERT INTO spends (grant_id, token, amount, ts, reference) VALUES (?, ?, ?, ?, ?)",
        (grant.id, USDC_BASE.lower(), "60", START + 0.5, "tx-1"),
    )
    conn.close()
    with Store.open(data) as new:
        assert new.schema_version == SCHEMA_VERSION == 5
        # Version 4 sealed every row it found: each has its entry, so reads and checks pass.
        assert [e.event for e in new.audit_entries()] == ["sealed", "sealed"]
        assert new.get_grant(grant.id) == grant
        [legacy] = new.list_spends()
        assert (legacy.key, legacy.status, legacy.amount, legacy.at, legacy.signature_ref) == (
            "v1:1",
            "committed",
            60,
            START,
            "tx-1",
        )
        assert new.budget(grant.id, START)[0].spent == 60
        assert new.verify_audit().ok


# Crash safety


def all_grants(store: Store) -> list[StoredGrant]:
    grants = page = store.list_grants(limit=1000)
    while len(page) == 1000:
        last = page[-1]
        page = store.list_grants(limit=1000, before_created=last.created_at, before_id=last.id)
        grants = grants + page
    return grants


def all_audit(store: Store) -> list[store_module.AuditEntry]:
    entries = page = store.audit_entries()
    while len(page) == 1000:
        page = store.audit_entries(after_seq=page[-1].seq)
        entries = entries + page
    return entries


CHILD = """
import hashlib, sys
from pathlib import Path
from signerd.store import Store, StoredGrant

store = Store.open(Path(sys.argv[1]))
n = int(sys.argv[2])
while True:
    grant_id = "0x" + hashlib.sha256(f"crash {n}".encode()).hexdigest()
    store.add_grant(StoredGrant(
        id=grant_id, account="0x" + "aa" * 20, session_key="0x" + "bb" * 20, chain_id=1,
        agent="crash test", valid_after=0, valid_until=2**64 - 1, nonce=n,
        document={"id": grant_id, "typedData": {}, "signature": "0x", "signer": "0x"},
        device="sim", peer_uid=None, created_at=float(n),
    ))
    print(grant_id, flush=True)
    n += 1
"""


def test_sigkill_loses_no_committed_grant(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(7)
    committed: list[str] = []
    for run in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data), str(run * 1_000_000)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        # Kill after a random number of commits, i.e. somewhere inside a later add_grant.
        for _ in range(rng.randint(1, 40)):
            committed.append(child.stdout.readline().strip())
        time.sleep(rng.uniform(0, 0.005))
        os.kill(child.pid, signal.SIGKILL)
        committed.extend(line.strip() for line in child.stdout)
        child.wait()
        assert child.returncode == -signal.SIGKILL

        with Store.open(data) as after:
            assert after.verify_audit().ok
            for grant_id in committed:
                assert after.get_grant(grant_id) is not None, grant_id
                assert [e.event for e in after.audit_entries(grant_id=grant_id)] == ["approved"]
            # And nothing half-written the other way round: one approval per stored grant.
            stored = all_grants(after)
            approvals = [e for e in all_audit(after) if e.event == "approved"]
            assert {g.id for g in stored} == {e.grant_id for e in approvals}
            assert len(approvals) == len(stored) >= len(committed)


def test_a_failed_non_durable_write_restores_sync(store: Store) -> None:
    with pytest.raises(ValueError), store._db.write(durable=False):
        raise ValueError("boom")
    assert store._db._writer.execute("PRAGMA synchronous").fetchone()[0] == FULL
    assert store.audit_entries() == []


def test_a_write_whose_transaction_sqlite_ended_raises_its_own_error(store: Store) -> None:
    with pytest.raises(ValueError, match="boom"), store._db.write() as conn:
        conn.execute("ROLLBACK")  # as SQLite itself does after some I/O errors
        raise ValueError("boom")
    store.append_audit("request_received")  # the writer is free again
    assert [entry.event for entry in store.audit_entries()] == ["request_received"]


# Reads beside writes


def test_reads_do_not_wait_for_a_write_in_progress(store: Store) -> None:
    """A write holds the write lock from BEGIN to the end of its COMMIT's fsync; reads (the
    daemon's event loop) must go on meanwhile, seeing the last committed state."""
    grant = spend_grant(1, [(USDC_BASE, 100, DAY)])
    store.add_grant(grant)
    inside, leave = threading.Event(), threading.Event()

    def slow_write() -> None:
        with store._db.write() as conn:
            append_entry(conn, "cancelled", None, None, None)
            inside.set()
            leave.wait(timeout=30)

    writer = threading.Thread(target=slow_write)
    other_write = threading.Thread(target=store.append_audit, args=("request_received",))
    reads: dict[str, Any] = {}

    def read() -> None:
        reads["grant"] = store.get_grant(grant.id)
        reads["list"] = store.list_grants(status="active", now=START)
        reads["audit"] = store.audit_entries()
        reads["verify"] = store.verify_audit()
        reads["budget"] = store.budget(grant.id, START)
        reads["version"] = store.schema_version

    reader = threading.Thread(target=read)
    writer.start()
    try:
        assert inside.wait(timeout=10)
        # The premise: the writer holds the lock, so another write waits for it.
        other_write.start()
        other_write.join(timeout=0.3)
        assert other_write.is_alive()
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive(), "a read waited for the write"
    finally:
        leave.set()
        writer.join()
        other_write.join()
        reader.join()
    assert reads["grant"] == grant
    assert [g.id for g in reads["list"]] == [grant.id]
    assert [e.event for e in reads["audit"]] == ["approved"]
    assert reads["verify"].ok and reads["budget"][0].remaining == 100
    assert reads["version"] == SCHEMA_VERSION
    # Both writes landed once the first let go.
    assert [e.event for e in store.audit_entries()] == ["approved", "cancelled", "request_received"]


def test_a_closed_store_refuses_reads_and_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "data")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_grant("0x" + "00" * 32)
    with pytest.raises(StoreError, match="closed"):
        store.append_audit("request_received")
