"""Grant reads answered from the rows already checked (signerd/store/rows.py VerifiedRows):
a row read again unchanged is not hashed again, and anything that changes what the seal check
sees (an edit outside signerd, a revocation, a rolled-back row) is checked afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

import signerd.store.grants as grants_module
from signerd.errors import StoreTampered
from signerd.store import Store, StoredGrant
from signerd.store.rows import VerifiedRows
from tests.store.support import DAY, drop_triggers, raw, spend_grant
from tests.support import USDC_BASE


@pytest.fixture
def grant(store: Store) -> StoredGrant:
    stored = spend_grant(7, [(USDC_BASE, 100, DAY)])
    store.add_grant(stored)
    return stored


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the grant rows whose seal is checked (hashed), in order."""
    calls: list[str] = []
    check = grants_module.check_sealed

    def counting(table: str, row: object) -> None:
        calls.append(row["id"])  # type: ignore[index]
        check(table, row)  # type: ignore[arg-type]

    monkeypatch.setattr(grants_module, "check_sealed", counting)
    return calls


def tamper(tmp_path: Path, sql: str, *params: object) -> None:
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute(sql, params)
    conn.close()


def test_an_unchanged_row_is_checked_once(
    store: Store, grant: StoredGrant, hashed: list[str]
) -> None:
    first = store.get_grant(grant.id)
    again = store.get_grant(grant.id)
    listed = store.list_grants()
    assert first is not None and again == first and listed == [first]
    assert first.document == grant.document
    assert hashed == [grant.id]


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE grants SET valid_until = '99999999999999999999'",
        "UPDATE grants SET document = replace(document, '\"amount\":100', '\"amount\":10000')",
        "UPDATE grants SET peer_uid = 4242",
        "UPDATE grants SET created_at = created_at + 1",
    ],
)
def test_a_row_edited_after_it_was_read_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path, edit: str
) -> None:
    assert store.get_grant(grant.id) is not None
    assert [g.id for g in store.list_grants()] == [grant.id]
    tamper(tmp_path, edit)
    with pytest.raises(StoreTampered, match="does not match what the audit log recorded"):
        store.get_grant(grant.id)
    with pytest.raises(StoreTampered):
        store.list_grants()
    with pytest.raises(StoreTampered):
        store.revoke_grant(grant.id, reason="x", peer_uid=None)


def test_a_revocation_after_a_read_is_read(
    store: Store, grant: StoredGrant, hashed: list[str]
) -> None:
    assert store.get_grant(grant.id) is not None
    store.revoke_grant(grant.id, reason="lost the laptop", peer_uid=None)
    revoked = store.get_grant(grant.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert revoked.revoke_reason == "lost the laptop"
    assert [g.status() for g in store.list_grants()] == ["revoked"]


def test_unrevoking_a_grant_read_as_revoked_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    """Rolled back to exactly the row the approval sealed, which was read (and passed)
    before the revocation: the later revocation entry still shows."""
    assert store.get_grant(grant.id) is not None  # the approved row, checked and kept
    store.revoke_grant(grant.id, reason="compromised", peer_uid=None)
    [approved] = [e for e in store.audit_entries() if e.event == "approved"]
    tamper(
        tmp_path,
        "UPDATE grants SET revoked_at = NULL, revoke_reason = NULL, audit_seq = ?",
        approved.seq,
    )
    with pytest.raises(StoreTampered, match="recorded its revocation"):
        store.get_grant(grant.id)
    with pytest.raises(StoreTampered, match="recorded its revocation"):
        store.list_grants()


def test_a_row_pointed_at_another_entry_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    other = spend_grant(8, [(USDC_BASE, 5, DAY)])
    store.add_grant(other)
    assert len(store.list_grants()) == 2
    [entry] = [e for e in store.audit_entries() if e.grant_id == other.id]
    tamper(tmp_path, "UPDATE grants SET audit_seq = ? WHERE id = ?", entry.seq, grant.id)
    with pytest.raises(StoreTampered, match="no audit entry of its own"):
        store.get_grant(grant.id)


def test_verified_rows_answer_only_for_the_same_read() -> None:
    rows: VerifiedRows[str] = VerifiedRows(2)
    rows.put("a", (1, "x", None), "grant a")
    assert rows.get("a", (1, "x", None)) == "grant a"
    assert rows.get("a", (1, "y", None)) is None
    assert rows.get("a", (1.0, "x", None)) is None  # equal, but hashed as "1.0"
    assert rows.get("a", (True, "x", None)) is None
    assert rows.get("b", (1, "x", None)) is None
    rows.put("b", (2,), "grant b")
    rows.put("c", (3,), "grant c")  # over the size: the oldest goes
    assert rows.get("a", (1, "x", None)) is None
    assert rows.get("b", (2,)) == "grant b" and rows.get("c", (3,)) == "grant c"
    rows.put("b", (4,), "grant b, revoked")
    assert rows.get("b", (2,)) is None and rows.get("b", (4,)) == "grant b, revoked"


def test_a_reservation_edited_before_its_commit_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    """The writer keeps the spends it reserved, to settle them without reading them back;
    an edit by another connection in between is read, and its seal refuses it."""
    nonce = "0x" + "ab" * 32
    store.reserve_spend(
        grant.id,
        token=USDC_BASE,
        amount=40,
        payee="0x2222222222222222222222222222222222222222",
        key=nonce,
        content_hash="0x" + "cd" * 32,
        now=grant.valid_after,
    )
    tamper(tmp_path, "UPDATE spends SET amount = '4' WHERE key = ?", nonce)
    with pytest.raises(StoreTampered):
        store.commit_spend(nonce, signature_ref="0x01")
