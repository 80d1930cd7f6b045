"""Tests of Store.pay_write: check, sign and commit as one write (the payment flow's)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from signerd.errors import BudgetExceeded, GrantRevoked, SpendConflict, StoreTampered
from signerd.store import SpendRecord, Store, StoredGrant
from tests.store.support import DAY, START, spend_grant
from tests.store.test_rows import tamper
from tests.store.test_spends import PAYEE, content, key, reserve
from tests.support import USDC_BASE

SIGNATURE = bytes(range(65))


@pytest.fixture
def grant(store: Store) -> StoredGrant:
    stored = spend_grant(1, [(USDC_BASE, 100, DAY)])
    store.add_grant(stored)
    return stored


class Signer:
    """Counts its calls; returns SIGNATURE, or raises ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    def __call__(self) -> bytes:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return SIGNATURE


def payment(store: Store, grant: StoredGrant, amount: int, label: int, sign: Signer) -> Any:
    """The pay_write of payment ``label`` (its key and content) of ``amount`` to PAYEE."""
    return store.pay_write(
        grant.id,
        token=USDC_BASE,
        amount=amount,
        payee=PAYEE,
        key=key(label),
        content_hash=content(label),
        now=START,
        sign=sign,
    )


def pay(
    store: Store, grant: StoredGrant, amount: int, label: int, sign: Signer
) -> tuple[SpendRecord, bytes]:
    write = payment(store, grant, amount, label, sign)

    async def submit() -> Any:
        return await store.submit_spend_write(write)

    result: tuple[SpendRecord, bytes] = asyncio.run(submit())
    return result


def _events(store: Store, grant: StoredGrant) -> list[str]:
    return [entry.event for entry in store.audit_entries(grant_id=grant.id)]


def test_a_payment_is_checked_signed_and_committed_in_one_write(
    store: Store, grant: StoredGrant
) -> None:
    sign = Signer()
    before = len(store.audit_entries(grant_id=grant.id))
    spend, signature = pay(store, grant, 60, 1, sign)
    assert signature == SIGNATURE and sign.calls == 1
    assert (spend.status, spend.signature_ref) == ("committed", "0x" + SIGNATURE.hex())
    assert store.get_spend(key(1)) == spend
    # One entry records the whole payment: what was paid to whom, and the signature.
    [entry] = store.audit_entries(grant_id=grant.id)[before:]
    assert entry.event == "spend_committed"
    assert entry.detail is not None
    assert {name: entry.detail[name] for name in ("key", "token", "amount", "payee")} == {
        "key": key(1),
        "token": USDC_BASE,
        "amount": "60",
        "payee": PAYEE,
    }
    assert (entry.detail["at"], entry.detail["signature_ref"]) == (START, spend.signature_ref)
    [day] = store.budget(grant.id, START)
    assert (day.spent, day.reserved, day.remaining) == (60, 0, 40)
    assert store.verify_audit().ok


def test_a_paid_row_edited_afterwards_is_refused(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    pay(store, grant, 60, 1, Signer())
    tamper(tmp_path, ("UPDATE spends SET amount = '6' WHERE key = ?", (key(1),)))
    with pytest.raises(StoreTampered) as caught:
        store.budget(grant.id, START)
    assert caught.value.data == {"spend": key(1)}
    assert store.verify_audit().problems == (f"spend {key(1)} was changed outside signerd",)


def test_a_failed_signature_leaves_nothing_behind(store: Store, grant: StoredGrant) -> None:
    before = _events(store, grant)
    with pytest.raises(RuntimeError, match="no key"):
        pay(store, grant, 60, 1, Signer(RuntimeError("no key")))
    assert store.get_spend(key(1)) is None
    assert _events(store, grant) == before
    [day] = store.budget(grant.id, START)
    assert day.remaining == 100


def test_over_budget_is_refused_before_signing(store: Store, grant: StoredGrant) -> None:
    pay(store, grant, 60, 1, Signer())
    sign = Signer()
    with pytest.raises(BudgetExceeded):
        pay(store, grant, 41, 2, sign)
    assert sign.calls == 0 and store.get_spend(key(2)) is None


def test_a_retry_returns_the_stored_signature_without_signing(
    store: Store, grant: StoredGrant
) -> None:
    first, _ = pay(store, grant, 60, 1, Signer())
    again = Signer()
    spend, signature = pay(store, grant, 60, 1, again)
    assert (spend, signature, again.calls) == (first, SIGNATURE, 0)
    [day] = store.budget(grant.id, START)
    assert day.spent == 60


def test_a_reservation_left_by_a_crash_is_signed_and_committed(
    store: Store, grant: StoredGrant
) -> None:
    reserve(store, grant, 60, 1)
    sign = Signer()
    spend, _ = pay(store, grant, 60, 1, sign)
    assert (spend.status, sign.calls) == ("committed", 1)
    assert _events(store, grant)[-2:] == ["spend_reserved", "spend_committed"]
    [day] = store.budget(grant.id, START)
    assert (day.spent, day.reserved) == (60, 0)
    assert store.verify_audit().ok


@pytest.mark.parametrize("settle", ["release", "commit_unsigned", "commit_elsewhere"])
def test_a_settled_key_without_its_signature_is_a_conflict(
    store: Store, grant: StoredGrant, settle: str
) -> None:
    reserve(store, grant, 60, 1)
    if settle == "release":
        store.release_spend(key(1))
    elif settle == "commit_unsigned":
        store.commit_spend(key(1))
    else:  # a signer outside the daemon, naming where its signature is
        store.commit_spend(key(1), signature_ref="0x" + "zz" * 65)
    sign = Signer()
    with pytest.raises(SpendConflict):
        pay(store, grant, 60, 1, sign)
    assert sign.calls == 0


def test_a_batch_reads_its_grant_once_and_sees_a_revocation_next_time(
    store: Store, grant: StoredGrant
) -> None:
    """Spend writes never change a grant's row and nothing else writes inside their
    transaction: its grant is looked at once per transaction, not once per payment."""
    statements: list[str] = []
    store._db._writer.set_trace_callback(statements.append)

    async def batch(labels: range) -> list[Any]:
        writes = [payment(store, grant, 1, n, Signer()) for n in labels]
        return await asyncio.gather(*(store.submit_spend_write(w) for w in writes))

    assert len(asyncio.run(batch(range(1, 6)))) == 5
    assert sum("SELECT audit_seq FROM grants" in s for s in statements) == 1
    store.revoke_grant(grant.id, reason="test", peer_uid=None)
    with pytest.raises(GrantRevoked):
        asyncio.run(batch(range(6, 7)))
