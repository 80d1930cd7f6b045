"""Tests of signerd.store: grants, the spend ledger, the audit chain, migrations, crash safety."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signerd import store as store_module
from signerd.errors import GrantNotFound, GrantRevoked, SignerdError, ValidationError
from signerd.store import (
    DB_FILENAME,
    GENESIS_HASH,
    SCHEMA_VERSION,
    GrantExists,
    Store,
    StoredGrant,
    StoreError,
    default_data_dir,
)
from tests.support import FOREVER, NOW, make_grant


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def raw(tmp_path: Path) -> sqlite3.Connection:
    """A plain connection to the store's file, as an attacker (or a careless tool) would use."""
    return sqlite3.connect(tmp_path / "data" / DB_FILENAME, isolation_level=None)


# Grants


def test_grant_roundtrip_survives_reopen(tmp_path: Path) -> None:
    grant = make_grant(1)
    with Store.open(tmp_path / "data") as first:
        first.add_grant(grant, audit_detail={"request_id": "r1"})
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / DB_FILENAME).stat().st_mode) == 0o600
    with Store.open(tmp_path / "data") as second:
        assert second.get_grant(grant.id) == grant
        assert second.get_grant("0x" + "00" * 32) is None
        [entry] = second.audit_entries(grant_id=grant.id)
        assert entry.event == "approved"
        assert entry.peer == {"uid": 1000}
        assert entry.detail is not None
        assert entry.detail["request_id"] == "r1"
        assert entry.detail["device"] == grant.device
        assert second.verify_audit().ok


def test_uint_fields_keep_full_precision(store: Store) -> None:
    grant = make_grant(1, valid_after=2**64 - 2, valid_until=FOREVER)
    store.add_grant(grant)
    stored = store.get_grant(grant.id)
    assert stored is not None
    assert (stored.valid_after, stored.valid_until, stored.nonce) == (
        2**64 - 2,
        FOREVER,
        2**255 + 1,
    )


def test_duplicate_grant_raises_and_writes_no_audit(store: Store) -> None:
    grant = make_grant(1)
    store.add_grant(grant)
    with pytest.raises(GrantExists):
        store.add_grant(grant)
    assert [e.event for e in store.audit_entries()] == ["approved"]
    assert store.verify_audit().ok


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "0x1234"}, "id"),
        ({"nonce": 2**256}, "nonce"),
        ({"valid_until": 2**64}, "valid_until"),
        ({"document": {"id": "0x" + "ee" * 32}}, "document.id"),
        (
            {"document": {"sessionKey": {"privateKey": "0x" + "11" * 32}}},
            "document.sessionKey.privateKey",
        ),
    ],
)
def test_bad_grant_is_refused(store: Store, change: dict[str, Any], field: str) -> None:
    grant = StoredGrant(**{**make_grant(1).__dict__, **change})
    with pytest.raises(ValidationError) as caught:
        store.add_grant(grant)
    assert caught.value.field == field
    assert store.list_grants() == []
    assert store.audit_entries() == []


def test_list_newest_first_with_keyset_pages(store: Store) -> None:
    # Three grants share each timestamp, so a page boundary falls inside a tie.
    grants = [make_grant(n, created_at=NOW + n // 3) for n in range(25)]
    for grant in random.Random(1).sample(grants, len(grants)):
        store.add_grant(grant)
    expected = sorted(grants, key=lambda g: (g.created_at, g.id), reverse=True)

    pages: list[list[StoredGrant]] = [store.list_grants(limit=10)]
    while len(pages[-1]) == 10:
        last = pages[-1][-1]
        pages.append(store.list_grants(limit=10, before_created=last.created_at, before_id=last.id))
    assert [len(page) for page in pages] == [10, 10, 5]
    assert [g.id for page in pages for g in page] == [g.id for g in expected]

    before = store.list_grants(before_created=NOW + 2)
    assert [g.id for g in before] == [g.id for g in expected if g.created_at < NOW + 2]


def test_list_filters_by_status_and_session_key(store: Store) -> None:
    other = "0x2222222222222222222222222222222222222222"
    grants = {
        "pending": make_grant(1, valid_after=int(NOW) + 1, created_at=1.0),
        "active": make_grant(2, valid_after=int(NOW), valid_until=int(NOW) + 10, created_at=2.0),
        "active_last_second": make_grant(3, valid_until=int(NOW) + 1, created_at=3.0),
        "expired_now": make_grant(6, valid_until=int(NOW), created_at=6.0),
        "expired": make_grant(4, valid_until=int(NOW) - 1, created_at=4.0),
        "revoked": make_grant(5, created_at=5.0, session_key=other),
    }
    for grant in grants.values():
        store.add_grant(grant)
    store.revoke_grant(grants["revoked"].id, reason="test", peer_uid=None)

    def ids(status: store_module.GrantStatus, now: float = NOW) -> set[str]:
        return {g.id for g in store.list_grants(status=status, now=now)}

    assert ids("pending") == {grants["pending"].id}
    assert ids("active") == {grants["active"].id, grants["active_last_second"].id}
    assert ids("expired") == {grants["expired"].id, grants["expired_now"].id}
    assert ids("revoked") == {grants["revoked"].id}
    # valid_until is exclusive (as in signerd.grants.verify): half a second before it the grant
    # is active, at it expired; SQL and Python agree at every instant.
    assert grants["active_last_second"].id in ids("active", NOW + 0.5)
    assert grants["active_last_second"].id in ids("expired", NOW + 1)
    assert ids("pending", NOW + 1) == set()
    statuses: tuple[store_module.GrantStatus, ...] = ("pending", "active", "expired", "revoked")
    for now in (NOW - 0.5, NOW, NOW + 0.5, NOW + 1, NOW + 10):
        by_sql = {g.id: s for s in statuses for g in store.list_grants(status=s, now=now)}
        assert by_sql == {g.id: g.status(now) for g in store.list_grants()}

    assert [g.id for g in store.list_grants(session_key=other.upper().replace("X", "x"))] == [
        grants["revoked"].id
    ]
    with pytest.raises(ValidationError):
        store.list_grants(limit=0)


def test_revoke(store: Store) -> None:
    grant = make_grant(1)
    store.add_grant(grant)
    revoked = store.revoke_grant(grant.id, reason="agent compromised", peer_uid=1000)
    assert revoked.status() == "revoked"
    assert revoked.revoke_reason == "agent compromised"
    assert store.get_grant(grant.id) == revoked
    with pytest.raises(GrantRevoked):
        store.revoke_grant(grant.id, reason="again", peer_uid=1000)
    with pytest.raises(GrantNotFound):
        store.revoke_grant("0x" + "00" * 32, reason="x", peer_uid=None)
    assert isinstance(GrantRevoked("x"), SignerdError)
    entries = store.audit_entries(grant_id=grant.id)
    assert [(e.event, e.peer) for e in entries] == [
        ("approved", {"uid": 1000}),
        ("revoked", {"uid": 1000}),
    ]
    assert entries[1].detail == {"reason": "agent compromised"}


# Audit chain


def fill_audit(store: Store, count: int = 6) -> None:
    for n in range(count):
        store.append_audit(
            "request_received", grant_id=None, peer={"uid": 1000, "pid": n}, detail={"n": n}
        )


def test_audit_chain_verifies_and_hashes_are_reproducible(store: Store) -> None:
    fill_audit(store)
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    prev = GENESIS_HASH
    for entry in entries:
        body = json.dumps(
            {
                "seq": entry.seq,
                "ts": entry.ts,
                "event": entry.event,
                "grant_id": entry.grant_id,
                "peer": entry.peer,
                "detail": entry.detail,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        assert entry.prev_hash == prev
        assert entry.hash == hashlib.sha256(bytes.fromhex(prev) + body.encode()).hexdigest()
        prev = entry.hash
    report = store.verify_audit()
    assert (report.ok, report.count, report.head, report.bad_seq) == (True, 6, prev, None)
    assert store.audit_entries(after_seq=4, limit=1)[0].seq == 5
    with pytest.raises(ValidationError):
        store.append_audit("made_up")
    # The exported form carries what an outside checker needs to recompute the chain.
    exported = json.loads(json.dumps([e.to_json() for e in entries]))
    assert exported[0]["prev_hash"] == GENESIS_HASH
    assert exported[-1]["hash"] == report.head


def test_empty_audit_verifies(store: Store) -> None:
    assert store.verify_audit() == store_module.AuditReport(True, 0, GENESIS_HASH)


def test_triggers_make_audit_append_only(store: Store, tmp_path: Path) -> None:
    fill_audit(store, 3)
    conn = raw(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET detail = '{}' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="extend the head"):
        conn.execute(
            "INSERT INTO audit VALUES (9, 0, 'approved', NULL, 'null', 'null', ?, ?)",
            (GENESIS_HASH, GENESIS_HASH),
        )
    with pytest.raises(sqlite3.IntegrityError, match="next entry"):
        conn.execute("UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit WHERE seq = 2)")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be deleted"):
        conn.execute("DELETE FROM audit_head")
    conn.close()
    assert store.verify_audit().ok


def drop_triggers(conn: sqlite3.Connection) -> None:
    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    for (name,) in names:
        conn.execute(f"DROP TRIGGER {name}")


def forged_hash(seq: int, prev: str, detail: dict[str, Any]) -> str:
    return store_module.audit_hash(
        prev, seq=seq, ts=NOW, event="approved", grant_id=None, peer=None, detail=detail
    )


def test_detects_edited_entry(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("""UPDATE audit SET detail = '{"n":99}' WHERE seq = 3""")
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        3,
        "hash does not match the entry's contents",
    )
    assert report.count == 2


def test_detects_deleted_middle_entry(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("DELETE FROM audit WHERE seq = 3")
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (False, 3, "entry 3 is missing")


def test_detects_forged_entry_inserted_in_the_middle(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    # Make room at seq 3 and insert a self-consistent forged entry linked to entry 2.
    conn.execute("UPDATE audit SET seq = seq + 1000 WHERE seq >= 3")
    conn.execute("UPDATE audit SET seq = seq - 999 WHERE seq >= 1000")
    (prev,) = conn.execute("SELECT hash FROM audit WHERE seq = 2").fetchone()
    conn.execute(
        "INSERT INTO audit VALUES (3, ?, 'approved', NULL, 'null', ?, ?, ?)",
        (NOW, '{"forged":true}', prev, forged_hash(3, prev, {"forged": True})),
    )
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        4,
        "prev_hash does not link to the previous entry",
    )


def test_detects_forged_entry_appended_behind_the_head(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    (prev,) = conn.execute("SELECT hash FROM audit WHERE seq = 6").fetchone()
    conn.execute(
        "INSERT INTO audit VALUES (7, ?, 'approved', NULL, 'null', ?, ?, ?)",
        (NOW, '{"forged":true}', prev, forged_hash(7, prev, {"forged": True})),
    )
    report = store.verify_audit()
    assert (report.ok, report.count, report.bad_seq, report.reason) == (
        False,
        7,
        7,
        "entries after seq 6 bypassed the head",
    )


def test_detects_truncated_tail(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("DELETE FROM audit WHERE seq = 6")
    report = store.verify_audit()
    assert (report.ok, report.count, report.bad_seq, report.reason) == (
        False,
        5,
        6,
        "entries 6..6 are missing: the log was truncated",
    )


def test_detects_rewritten_head(store: Store, tmp_path: Path) -> None:
    fill_audit(store)
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute("UPDATE audit_head SET hash = ?", ("ff" * 32,))
    report = store.verify_audit()
    assert (report.ok, report.bad_seq, report.reason) == (
        False,
        6,
        "the head hash does not match the log",
    )


# Spend ledger


def spend(store: Store, grant_id: str, amount: int, **kwargs: Any) -> bool:
    args: dict[str, Any] = {"token": "0x0", "cap": 100, "period": 0, "now": NOW, "reference": "tx"}
    return store.try_spend(grant_id, amount=amount, **{**args, **kwargs})


def test_try_spend_caps_and_audits(store: Store) -> None:
    grant = make_grant(1)
    store.add_grant(grant)
    assert spend(store, grant.id, 60)
    assert spend(store, grant.id, 40)
    assert not spend(store, grant.id, 1)
    assert spend(store, grant.id, 1, token="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
    assert store.spent(grant.id, "0x0", 0) == 100
    events = [
        (e.event, (e.detail or {}).get("reason")) for e in store.audit_entries(grant_id=grant.id)
    ]
    assert events == [
        ("approved", None),
        ("spent", None),
        ("spent", None),
        ("spend_refused", "over cap"),
        ("spent", None),
    ]
    assert store.verify_audit().ok


def test_try_spend_period_window(store: Store) -> None:
    grant = make_grant(1)
    store.add_grant(grant)
    day = 86_400
    assert spend(store, grant.id, 100, period=day, now=NOW)
    assert not spend(store, grant.id, 1, period=day, now=NOW + day)  # the window is inclusive
    assert spend(store, grant.id, 100, period=day, now=NOW + day + 1)
    assert store.spent(grant.id, "0x0", NOW + 1) == 100
    # With period 0 the cap covers the grant's whole life.
    assert not spend(store, grant.id, 1, cap=200, period=0, now=NOW + 10 * day)


def test_try_spend_uint256_amounts(store: Store) -> None:
    grant = make_grant(1)
    store.add_grant(grant)
    cap = 2**256 - 1
    assert spend(store, grant.id, 2**255, cap=cap)
    assert spend(store, grant.id, 2**255 - 1, cap=cap)
    assert not spend(store, grant.id, 1, cap=cap)
    assert store.spent(grant.id, "0x0", 0) == cap
    with pytest.raises(ValidationError):
        spend(store, grant.id, 2**256, cap=cap)
    with pytest.raises(ValidationError):
        spend(store, grant.id, 0)


def test_try_spend_refuses_inactive_grants(store: Store) -> None:
    expired = make_grant(1, valid_until=int(NOW) - 1)
    revoked = make_grant(2)
    for grant in (expired, revoked):
        store.add_grant(grant)
    store.revoke_grant(revoked.id, reason="done", peer_uid=None)
    assert not spend(store, expired.id, 1)
    assert store.audit_entries(grant_id=expired.id)[-1].detail == {
        "token": "0x0",
        "amount": "1",
        "cap": "100",
        "period": 0,
        "spent_before": "0",
        "reference": "tx",
        "reason": "expired",
    }
    with pytest.raises(GrantRevoked):
        spend(store, revoked.id, 1)
    with pytest.raises(GrantNotFound):
        spend(store, "0x" + "00" * 32, 1)
    assert store.spent(expired.id, "0x0", 0) == 0


def test_concurrent_spenders_never_exceed_cap(tmp_path: Path) -> None:
    data = tmp_path / "data"
    grant = make_grant(1)
    with Store.open(data) as setup:
        setup.add_grant(grant)
    threads, attempts, amount, cap = 4, 20, 7, 100
    barrier = threading.Barrier(threads)
    results: list[bool] = []
    results_lock = threading.Lock()

    def hammer(worker: int) -> None:
        with Store.open(data) as own:
            barrier.wait()
            for attempt in range(attempts):
                ok = spend(own, grant.id, amount, cap=cap, reference=f"{worker}-{attempt}")
                with results_lock:
                    results.append(ok)

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == threads * attempts
    assert results.count(True) == cap // amount
    with Store.open(data) as check:
        assert check.spent(grant.id, "0x0", 0) == (cap // amount) * amount
        events = [e.event for e in check.audit_entries(grant_id=grant.id)]
        assert events.count("spent") == cap // amount
        assert events.count("spend_refused") == threads * attempts - cap // amount
        assert check.verify_audit().ok


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
    monkeypatch.setattr(store_module, "_MIGRATIONS", (*store_module._MIGRATIONS, broken_step))
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
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


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "signerd"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".local" / "share" / "signerd"


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
