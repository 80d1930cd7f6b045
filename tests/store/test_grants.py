"""Tests of signerd.store.grants: adding (one or many), reading, listing and revoking grants."""

from __future__ import annotations

import random
import stat
from pathlib import Path
from typing import Any

import pytest

from signerd import store as store_module
from signerd.errors import GrantExists, GrantNotFound, GrantRevoked, SignerdError, ValidationError
from signerd.store import DB_FILENAME, Store, StoredGrant
from tests.support import FOREVER, NOW, make_grant


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
        ({"document": {"keys": [{"PRIVATE-key": "0x11"}]}}, "document.keys.0.PRIVATE-key"),
        # A Kelvin sign lowercases to "k": escaped in the JSON, still a secret's name.
        ({"document": {"private\u212aey": "0x11"}}, "document.private\u212aey"),
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
    assert entries[1].detail is not None
    assert entries[1].detail["reason"] == "agent compromised"


# Many grants in one transaction


def test_add_grants_stores_each_with_its_approved_entry(store: Store) -> None:
    grants = [make_grant(n, created_at=1000.0 + n) for n in range(5)]
    store.add_grants(grants, audit_detail={"device": "bulk"})
    assert [g.id for g in store.list_grants(limit=10)] == [g.id for g in reversed(grants)]
    for grant in grants:
        assert store.get_grant(grant.id) == grant
    entries = store.audit_entries()
    assert [(e.event, e.grant_id) for e in entries] == [("approved", g.id) for g in grants]
    assert all(e.detail is not None and e.detail["device"] == "bulk" for e in entries)
    assert store.verify_audit().ok


def test_add_grants_is_all_or_nothing(store: Store) -> None:
    store.add_grant(make_grant(3))
    with pytest.raises(GrantExists):
        store.add_grants([make_grant(1), make_grant(2), make_grant(3)])
    assert [g.id for g in store.list_grants()] == [make_grant(3).id]
    assert len(store.audit_entries()) == 1
    assert store.verify_audit().ok
