"""Stored delegations (signerd/store/delegations.py): one per grant, sealed like grant rows,
disabled once with its own audit entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from signerd.errors import DelegationExists, DelegationNotFound, GrantNotFound, StoreTampered
from signerd.store import Store, StoredDelegation, StoredGrant
from tests.store.support import DAY, drop_triggers, raw, spend_grant
from tests.support import USDC_BASE

MANAGER = "0x3333333333333333333333333333333333333333"
ACCOUNT = "0x4444444444444444444444444444444444444444"


@pytest.fixture
def grant(store: Store) -> StoredGrant:
    stored = spend_grant(1, [(USDC_BASE, 100, DAY)])
    store.add_grant(stored)
    return stored


def record(grant_id: str) -> StoredDelegation:
    return StoredDelegation(
        grant_id=grant_id,
        chain_id=8453,
        manager=MANAGER,
        delegator=ACCOUNT,
        hash="0x" + "ab" * 32,
        delegation={"delegate": "0x55", "caveats": [], "salt": "1", "signature": "0x01"},
        created_at=1_700_000_000.5,
    )


def test_stored_read_disabled_and_audited(store: Store, grant: StoredGrant) -> None:
    store.add_delegation(record(grant.id), peer={"uid": 1000})
    assert store.get_delegation(grant.id) == record(grant.id)
    with pytest.raises(DelegationExists):
        store.add_delegation(record(grant.id))
    disabled = store.disable_delegation(grant.id, tx="0x" + "cd" * 32)
    assert disabled.disable_tx == "0x" + "cd" * 32 and disabled.disabled_at is not None
    assert store.get_delegation(grant.id) == disabled
    events = [e.event for e in store.audit_entries() if e.grant_id == grant.id]
    assert events == ["approved", "delegated", "delegation_disabled"]
    assert store.verify_audit().ok


def test_unknown_grant_or_delegation(store: Store) -> None:
    with pytest.raises(GrantNotFound):
        store.add_delegation(record("0x" + "11" * 32))
    assert store.get_delegation("0x" + "11" * 32) is None
    with pytest.raises(DelegationNotFound):
        store.disable_delegation("0x" + "11" * 32, tx="0x")


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        (
            "UPDATE delegations SET delegator = '0x6666666666666666666666666666666666666666'",
            "was changed outside signerd",
        ),
        ("UPDATE delegations SET disabled_at = NULL, disable_tx = NULL", "was changed outside"),
    ],
)
def test_an_edited_delegation_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path, sql: str, problem: str
) -> None:
    store.add_delegation(record(grant.id))
    store.disable_delegation(grant.id, tx="0xfeed")
    conn = raw(tmp_path)
    drop_triggers(conn)
    conn.execute(sql)
    conn.close()
    with pytest.raises(StoreTampered) as caught:
        store.get_delegation(grant.id)
    assert caught.value.data == {"delegation": grant.id}
    report = store.verify_audit()
    assert not report.ok and problem in report.problems[0]
