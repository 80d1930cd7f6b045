"""Tamper evidence for the rows that decide spending (signerd/store/rows.py).

Each test edits the database file as an attacker with write access would (triggers dropped,
plain SQL), then checks that the daemon's reads refuse the row (StoreTampered) and that
``verify_audit`` names it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from signerd.errors import StoreTampered
from signerd.store import Store, StoredGrant
from signerd.store.rows import row_hash
from tests.store.support import DAY, START, drop_triggers, raw, spend_grant
from tests.support import USDC_BASE

PAYEE = "0x2222222222222222222222222222222222222222"


def nonce(n: int) -> str:
    return "0x" + hashlib.sha256(f"spend {n}".encode()).hexdigest()


@pytest.fixture
def grant(store: Store) -> StoredGrant:
    stored = spend_grant(1, [(USDC_BASE, 100, DAY)])
    store.add_grant(stored)
    return stored


def tamper(tmp_path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    conn = raw(tmp_path)
    drop_triggers(conn)
    for sql, params in statements:
        conn.execute(sql, params)
    conn.close()


def refused_everywhere(store: Store, grant_id: str, problem: str) -> None:
    with pytest.raises(StoreTampered) as caught:
        store.get_grant(grant_id)
    assert caught.value.data == {"grant": grant_id}
    with pytest.raises(StoreTampered):
        store.list_grants()
    with pytest.raises(StoreTampered):
        store.revoke_grant(grant_id, reason="x", peer_uid=None)
    with pytest.raises(StoreTampered):
        store.budget(grant_id, START)
    report = store.verify_audit()
    assert not report.ok
    assert report.problems == (f"grant {grant_id} {problem}",)


def test_an_untouched_store_verifies_and_reads(store: Store, grant: StoredGrant) -> None:
    store.reserve_spend(
        grant.id,
        token=USDC_BASE,
        amount=30,
        key=nonce(1),
        payee=PAYEE,
        content_hash=nonce(11),
        now=START,
    )
    store.commit_spend(nonce(1))
    store.revoke_grant(grant.id, reason="done", peer_uid=None)
    assert store.verify_audit().ok
    stored = store.get_grant(grant.id)
    assert stored is not None and stored.revoked_at is not None


def test_unrevoking_a_grant_is_refused(store: Store, grant: StoredGrant, tmp_path: Path) -> None:
    store.revoke_grant(grant.id, reason="compromised", peer_uid=None)
    tamper(tmp_path, ("UPDATE grants SET revoked_at = NULL, revoke_reason = NULL", ()))
    refused_everywhere(store, grant.id, "was changed outside signerd")


def test_unrevoking_and_pointing_at_the_approval_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    """The row rolled back to exactly what the approval recorded: the revocation still shows."""
    store.revoke_grant(grant.id, reason="compromised", peer_uid=None)
    [approved] = [e for e in store.audit_entries() if e.event == "approved"]
    tamper(
        tmp_path,
        (
            "UPDATE grants SET revoked_at = NULL, revoke_reason = NULL, audit_seq = ?",
            (approved.seq,),
        ),
    )
    with pytest.raises(StoreTampered, match="recorded its revocation"):
        store.get_grant(grant.id)
    assert not store.verify_audit().ok


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE grants SET valid_until = '99999999999999999999'",
        "UPDATE grants SET document = replace(document, '\"amount\":100', '\"amount\":10000')",
        "UPDATE grants SET peer_uid = 4242",
    ],
)
def test_an_edited_grant_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path, edit: str
) -> None:
    tamper(tmp_path, (edit, ()))
    refused_everywhere(store, grant.id, "was changed outside signerd")


def test_a_grant_without_an_entry_is_refused(store: Store, tmp_path: Path) -> None:
    forged = spend_grant(2, [(USDC_BASE, 10**30, DAY)])
    store.add_grant(forged)
    # The same row under another id, as if inserted by hand: no entry names it.
    other = "0x" + "ab" * 32
    tamper(
        tmp_path,
        ("UPDATE grants SET id = ?, document = replace(document, ?, ?)", (other, forged.id, other)),
    )
    with pytest.raises(StoreTampered, match="no audit entry"):
        store.get_grant(other)
    problems = store.verify_audit().problems
    assert f"grant {other} has no audit entry" in problems
    assert f"grant {forged.id} is gone" in problems


def test_a_deleted_grant_is_reported(store: Store, grant: StoredGrant, tmp_path: Path) -> None:
    tamper(tmp_path, ("DELETE FROM grants", ()))
    assert store.get_grant(grant.id) is None
    report = store.verify_audit()
    assert not report.ok and report.reason == f"grant {grant.id} is gone"


def spent(store: Store, grant: StoredGrant) -> None:
    for n, amount in ((1, 60), (2, 30)):
        store.reserve_spend(
            grant.id,
            token=USDC_BASE,
            amount=amount,
            key=nonce(n),
            payee=PAYEE,
            content_hash=nonce(10 + n),
            now=START,
        )
        store.commit_spend(nonce(n))
    assert store.budget(grant.id, START)[0].remaining == 10


def test_a_spend_edited_to_released_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    spent(store, grant)
    tamper(tmp_path, ("UPDATE spends SET status = 'released' WHERE key = ?", (nonce(1),)))
    with pytest.raises(StoreTampered) as caught:
        store.budget(grant.id, START)
    assert caught.value.data == {"spend": nonce(1)}
    with pytest.raises(StoreTampered):
        store.reserve_spend(
            grant.id,
            token=USDC_BASE,
            amount=50,
            key=nonce(3),
            payee=PAYEE,
            content_hash=nonce(13),
            now=START,
        )
    with pytest.raises(StoreTampered):
        store.list_spends()
    assert store.verify_audit().problems == (f"spend {nonce(1)} was changed outside signerd",)


def test_a_deleted_spend_is_reported(store: Store, grant: StoredGrant, tmp_path: Path) -> None:
    spent(store, grant)
    tamper(tmp_path, ("DELETE FROM spends WHERE key = ?", (nonce(1),)))
    report = store.verify_audit()
    assert not report.ok and report.problems == (f"spend {nonce(1)} is gone",)


def test_an_edited_row_hash_in_the_chain_breaks_the_chain(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    """Editing both the row and the hash its entry recorded: the chain itself no longer
    verifies, since the entry's detail is covered by its chain hash."""
    tamper(tmp_path, ("UPDATE grants SET valid_until = '99999999999999999999'", ()))
    conn = raw(tmp_path)
    row = conn.execute("SELECT * FROM grants").fetchone()
    names = [d[0] for d in conn.execute("SELECT * FROM grants").description]
    new_hash = row_hash("grants", dict(zip(names, row, strict=True)))
    detail = json.loads(conn.execute("SELECT detail FROM audit WHERE seq = 1").fetchone()[0])
    detail["row_hash"] = new_hash
    conn.execute("UPDATE audit SET detail = ? WHERE seq = 1", (json.dumps(detail),))
    conn.close()
    assert store.get_grant(grant.id) is not None  # the fast read check is fooled...
    report = store.verify_audit()  # ...the chain is not
    assert not report.ok and report.bad_seq == 1
