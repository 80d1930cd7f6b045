"""Tests of signerd.store.spends: the ledger's caps, windows, idempotency, lifecycle, races."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from signerd.errors import (
    BudgetExceeded,
    ErrorCode,
    GrantExpired,
    GrantNotFound,
    GrantRevoked,
    SpendConflict,
    ValidationError,
)
from signerd.grants.caps import Window
from signerd.store import AllowanceBudget, SpendRecord, Store, StoredGrant
from tests.store.support import DAY, END, START, raw, spend_grant
from tests.support import USDC_BASE

PAYEE = "0x2222222222222222222222222222222222222222"
WETH = "0x4200000000000000000000000000000000000006"


def key(label: str | int) -> str:
    """A payment nonce (0x + 64 hex), derived from a label so tests can name it."""
    return "0x" + hashlib.sha256(f"nonce {label}".encode()).hexdigest()


def content(label: str | int) -> str:
    return "0x" + hashlib.sha256(f"content {label}".encode()).hexdigest()


def reserve(
    store: Store, grant: StoredGrant, amount: int, label: str | int, **kwargs: Any
) -> SpendRecord:
    args: dict[str, Any] = {
        "token": USDC_BASE,
        "payee": PAYEE,
        "key": key(label),
        "content_hash": content(label),
        "now": START,
    }
    return store.reserve_spend(grant.id, amount=amount, **{**args, **kwargs})


@pytest.fixture
def grant(store: Store) -> StoredGrant:
    """100 USDC per day, 150 over the whole grant."""
    stored = spend_grant(1, [(USDC_BASE, 100, DAY), (USDC_BASE, 150, 0)])
    store.add_grant(stored)
    return stored


def test_reserve_commit_and_release_count_as_they_should(store: Store, grant: StoredGrant) -> None:
    first = reserve(store, grant, 60, 1)
    assert (first.status, first.amount, first.token, first.at) == ("reserved", 60, USDC_BASE, START)
    committed = store.commit_spend(first.key, signature_ref="sig-1")
    assert (committed.status, committed.signature_ref) == ("committed", "sig-1")
    assert committed.settled_at is not None
    reserve(store, grant, 40, 2)
    with pytest.raises(BudgetExceeded) as caught:
        reserve(store, grant, 1, 3)
    assert caught.value.code == ErrorCode.BUDGET_EXCEEDED == -32050
    assert caught.value.data is not None
    assert caught.value.data["remaining"] == "0" and caught.value.data["period"] == DAY

    [day, total] = store.budget(grant.id, START + 5)
    assert day == AllowanceBudget(USDC_BASE, DAY, 100, Window(START, START + DAY), 60, 40, 0)
    assert (total.window, total.spent, total.reserved, total.remaining) == (
        Window(START, END),
        60,
        40,
        50,
    )

    released = store.release_spend(key(2))
    assert released.status == "released"
    assert store.budget(grant.id, START)[0].remaining == 40
    assert reserve(store, grant, 40, 4).status == "reserved"

    events = [
        (e.event, (e.detail or {}).get("key")) for e in store.audit_entries(grant_id=grant.id)
    ]
    assert events == [
        ("approved", None),
        ("spend_reserved", key(1)),
        ("spend_committed", key(1)),
        ("spend_reserved", key(2)),
        ("spend_released", key(2)),
        ("spend_reserved", key(4)),
    ]
    detail = store.audit_entries(grant_id=grant.id)[1].detail
    assert detail is not None and len(detail.pop("row_hash")) == 64
    assert detail == {
        "key": key(1),
        "token": USDC_BASE,
        "amount": "60",
        "payee": PAYEE,
        "content_hash": content(1),
        "at": START,
    }
    assert store.verify_audit().ok


def test_caps_come_only_from_the_signed_grant(store: Store, grant: StoredGrant) -> None:
    with pytest.raises(BudgetExceeded, match="no allowance"):
        reserve(store, grant, 1, 1, token=WETH)
    # Any hex case names the same token; the record keeps the checksummed form.
    assert reserve(store, grant, 100, 2, token=USDC_BASE.lower()).token == USDC_BASE
    # The daily cap is used up; the next day the whole-grant cap (150) is what binds.
    with pytest.raises(BudgetExceeded) as caught:
        reserve(store, grant, 51, 3, now=START + DAY)
    assert caught.value.data is not None and caught.value.data["period"] == 0
    assert reserve(store, grant, 50, 4, now=START + DAY).status == "reserved"
    assert [e.event for e in store.audit_entries(grant_id=grant.id)].count("spend_reserved") == 2


def test_period_window_rolls_over_without_carrying_unused_amounts(store: Store) -> None:
    grant = spend_grant(2, [(USDC_BASE, 100, DAY)], valid_until=START + 5 * DAY // 2)
    store.add_grant(grant)
    reserve(store, grant, 30, 1, now=START)
    reserve(store, grant, 70, 2, now=START + DAY - 1)
    with pytest.raises(BudgetExceeded):
        reserve(store, grant, 1, 3, now=START + DAY - 1)
    # A new window at validAfter + one period: the full cap again, not more.
    with pytest.raises(BudgetExceeded):
        reserve(store, grant, 101, 4, now=START + DAY)
    reserve(store, grant, 100, 5, now=START + DAY)
    # Nothing spent on day two carries into day three, which the grant's end cuts in half.
    [third] = store.budget(grant.id, START + 2 * DAY)
    assert third == AllowanceBudget(
        USDC_BASE, DAY, 100, Window(START + 2 * DAY, START + 5 * DAY // 2), 0, 0, 100
    )
    assert store.budget(grant.id, START + DAY)[0].reserved == 100


def test_idempotent_by_key_and_conflicting_on_other_content(
    store: Store, grant: StoredGrant
) -> None:
    first = reserve(store, grant, 10, 1)
    assert reserve(store, grant, 10, 1) == first
    # The key is the nonce's bytes, whatever the hex case.
    assert reserve(store, grant, 10, 1, key=key(1).upper().replace("0X", "0x")) == first
    committed = store.commit_spend(first.key, signature_ref="sig")
    assert reserve(store, grant, 10, 1) == committed
    assert store.commit_spend(first.key) == committed
    assert store.commit_spend(first.key, signature_ref="sig") == committed
    other = spend_grant(2, [(USDC_BASE, 100, DAY)])
    store.add_grant(other)
    for change in (
        {"amount": 11},
        {"content_hash": content(2)},
        {"payee": "0x" + "33" * 20},
        {"token": WETH},
    ):
        with pytest.raises(SpendConflict) as caught:
            reserve(store, grant, **{"amount": 10, "label": 1, **change})
        assert caught.value.code == ErrorCode.SPEND_CONFLICT == -32051
        assert caught.value.data == {"key": key(1), "status": "committed"}
    with pytest.raises(SpendConflict) as caught:
        reserve(store, other, 10, 1)
    # Another grant's spend (maybe another uid's): its state is not told.
    assert caught.value.data == {"key": key(1), "status": None}
    with pytest.raises(SpendConflict):
        store.commit_spend(first.key, signature_ref="another")
    assert store.budget(grant.id, START)[0].spent == 10
    assert [e.event for e in store.audit_entries(grant_id=grant.id)] == [
        "approved",
        "spend_reserved",
        "spend_committed",
    ]


def test_release_and_commit_move_a_reservation_once(store: Store, grant: StoredGrant) -> None:
    released = store.release_spend(reserve(store, grant, 10, 1).key)
    assert store.release_spend(key(1)) == released
    assert reserve(store, grant, 10, 1) == released  # a retry sees what became of it
    with pytest.raises(SpendConflict, match="released"):
        store.commit_spend(key(1))
    store.commit_spend(reserve(store, grant, 10, 2).key)
    with pytest.raises(SpendConflict, match="committed"):
        store.release_spend(key(2))
    for settle in (store.commit_spend, store.release_spend):
        with pytest.raises(ValidationError) as caught:
            settle(key(3))
        assert caught.value.field == "key"
    assert store.get_spend(key(1)) == released
    assert store.get_spend(key(3)) is None
    assert [s.key for s in store.list_spends()] == [key(2), key(1)]


def test_inactive_grants_refuse_and_leave_no_trace(store: Store) -> None:
    grant = spend_grant(1, [(USDC_BASE, 100, 0)])
    store.add_grant(grant)
    with pytest.raises(GrantExpired, match="not valid before"):
        reserve(store, grant, 1, 1, now=START - 1)
    with pytest.raises(GrantExpired, match="expired"):
        reserve(store, grant, 1, 1, now=END)
    with pytest.raises(GrantNotFound):
        store.reserve_spend(
            "0x" + "00" * 32,
            token=USDC_BASE,
            amount=1,
            payee=PAYEE,
            key=key(1),
            content_hash=content(1),
            now=START,
        )
    with pytest.raises(GrantNotFound):
        store.budget("0x" + "00" * 32, START)
    reserved = reserve(store, grant, 10, 2)
    committed = store.commit_spend(reserve(store, grant, 10, 3).key)
    store.revoke_grant(grant.id, reason="compromised", peer_uid=None)
    with pytest.raises(GrantRevoked):
        reserve(store, grant, 1, 4)
    # A reservation retried after the revocation is not to be signed; a committed one was.
    with pytest.raises(GrantRevoked):
        reserve(store, grant, 10, 2)
    assert reserve(store, grant, 10, 3) == committed
    assert store.release_spend(reserved.key).status == "released"
    assert [(b.spent, b.reserved, b.remaining) for b in store.budget(grant.id, START)] == [
        (10, 0, 0)
    ]
    [outside] = store.budget(grant.id, END)
    assert (outside.window, outside.remaining) == (None, 0)
    assert [e.event for e in store.audit_entries(grant_id=grant.id)] == [
        "approved",
        "spend_reserved",
        "spend_reserved",
        "spend_committed",
        "revoked",
        "spend_released",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": 2**256}, "amount"),
        ({"key": "0x1234"}, "key"),
        ({"content_hash": "ab" * 32}, "content_hash"),
        ({"token": "0x123"}, "token"),
        ({"payee": "not an address"}, "payee"),
        ({"now": -1}, "now"),
        ({"peer": {"privateKey": "0x11"}}, "peer.privateKey"),
    ],
)
def test_malformed_spends_are_refused(
    store: Store, grant: StoredGrant, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        reserve(store, grant, **{"amount": 1, "label": 1, **change})
    assert caught.value.field == field
    assert store.list_spends() == []


def test_uint256_amounts(store: Store) -> None:
    grant = spend_grant(1, [(USDC_BASE, 2**256 - 1, 0)])
    store.add_grant(grant)
    reserve(store, grant, 2**255, 1)
    reserve(store, grant, 2**255 - 1, 2)
    with pytest.raises(BudgetExceeded):
        reserve(store, grant, 1, 3)
    assert store.budget(grant.id, START)[0].reserved == 2**256 - 1
    assert store.list_spends(limit=1)[0].to_json()["amount"] == str(2**255 - 1)


def test_list_spends_pages_newest_first(store: Store, grant: StoredGrant) -> None:
    other = spend_grant(2, [(USDC_BASE, 1000, 0)])
    store.add_grant(other)
    for n in range(7):
        reserve(store, grant if n % 2 else other, 1, n)
    page = store.list_spends(limit=3)
    assert [s.key for s in page] == [key(6), key(5), key(4)]
    assert [s.key for s in store.list_spends(limit=3, before=page[-1].seq)] == [
        key(3),
        key(2),
        key(1),
    ]
    assert [s.key for s in store.list_spends(grant_id=grant.id)] == [key(5), key(3), key(1)]
    with pytest.raises(ValidationError):
        store.list_spends(limit=0)


def test_the_ledger_only_moves_forward_in_sqlite(
    store: Store, grant: StoredGrant, tmp_path: Path
) -> None:
    store.commit_spend(reserve(store, grant, 10, 1).key)
    reserve(store, grant, 10, 2)
    conn = raw(tmp_path)
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        conn.execute("DELETE FROM spends")
    with pytest.raises(sqlite3.IntegrityError, match="settled once"):
        conn.execute("UPDATE spends SET status = 'released' WHERE key = ?", (key(1),))
    with pytest.raises(sqlite3.IntegrityError, match="settled once"):
        conn.execute(
            "UPDATE spends SET amount = '1', status = 'committed' WHERE key = ?", (key(2),)
        )
    conn.close()
    assert store.budget(grant.id, START)[0].spent + store.budget(grant.id, START)[0].reserved == 20


def test_racing_stores_spend_exactly_the_budget(tmp_path: Path) -> None:
    """Separate Store objects (separate connections, as separate processes have) race for a
    cap that is not a multiple of the amount: exactly the budget's worth gets through."""
    data = tmp_path / "data"
    grant = spend_grant(1, [(USDC_BASE, 100, DAY)])
    with Store.open(data) as setup:
        setup.add_grant(grant)
    threads, attempts, amount = 4, 10, 7
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        with Store.open(data) as own:
            barrier.wait()
            for attempt in range(attempts):
                try:
                    reserve(own, grant, amount, f"{worker}-{attempt}")
                    outcome = "reserved"
                except BudgetExceeded:
                    outcome = "refused"
                with lock:
                    outcomes.append(outcome)

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert outcomes.count("reserved") == 100 // amount
    assert outcomes.count("refused") == threads * attempts - 100 // amount
    with Store.open(data) as check:
        [budget] = check.budget(grant.id, START)
        assert (budget.reserved, budget.remaining) == (98, 2)
        events = [e.event for e in check.audit_entries(grant_id=grant.id)]
        assert events.count("spend_reserved") == 100 // amount
        assert check.verify_audit().ok


CRASH_AFTER_RESERVING = """
import os, signal, sys
from pathlib import Path
from signerd.store import Store

store = Store.open(Path(sys.argv[1]))
store.reserve_spend(sys.argv[2], token=sys.argv[3], amount=70, payee=sys.argv[4],
                    key=sys.argv[5], content_hash=sys.argv[6], now=int(sys.argv[7]))
# The signature may now be on its way: the process dies before it can commit.
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_reservation_survives_a_crash_and_still_counts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    grant = spend_grant(1, [(USDC_BASE, 100, DAY)])
    with Store.open(data) as setup:
        setup.add_grant(grant)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASH_AFTER_RESERVING,
            str(data),
            grant.id,
            USDC_BASE,
            PAYEE,
            key(1),
            content(1),
            str(START),
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    with Store.open(data) as after:
        reserved = after.get_spend(key(1))
        assert reserved is not None and reserved.status == "reserved"
        with pytest.raises(BudgetExceeded):
            reserve(after, grant, 31, 2)
        # Only an explicit release (the signature is known never to have left) frees it.
        after.release_spend(key(1))
        assert reserve(after, grant, 100, 3).status == "reserved"
        assert after.verify_audit().ok


def test_loop_writes_wait_for_a_grant_write_without_blocking_the_loop(
    store: Store, grant: StoredGrant
) -> None:
    taken, release = threading.Event(), threading.Event()

    def hold_the_writer() -> None:  # as a grant being stored from a thread would
        with store._db.write():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    assert taken.wait(10)

    async def scenario() -> tuple[list[SpendRecord], list[bool]]:
        writes = [
            store.reserve_write(
                grant.id,
                token=USDC_BASE,
                amount=10,
                payee=PAYEE,
                key=key(n),
                content_hash=content(n),
                now=START,
            )
            for n in range(3)
        ]
        futures = [store.submit_spend_write(write) for write in writes]
        await asyncio.sleep(0.2)  # the loop runs while the writer is taken
        waiting = [not future.done() for future in futures]
        release.set()
        return list(await asyncio.gather(*futures)), waiting

    spends, waiting = asyncio.run(scenario())
    holder.join()
    assert waiting == [True, True, True]
    assert [spend.status for spend in spends] == ["reserved"] * 3
    [day, whole] = store.budget(grant.id, START)
    assert (day.reserved, whole.reserved) == (30, 30)
    # Then the loop writes again: a commit of the first, through the loop's own batch.
    committed = asyncio.run(_submit(store, store.commit_write(key(0), signature_ref="0x01")))
    assert committed.status == "committed"


async def _submit(store: Store, write: Any) -> Any:
    return await store.submit_spend_write(write)
