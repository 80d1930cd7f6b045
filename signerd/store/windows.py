"""Whether a grant can be spent from, where an allowance stands in its current window, and
what the spend writer keeps of it.

``budget_of`` counts a window by reading every spend in it, checking each row's seal, so an
edited row is refused rather than left uncounted. That costs one row hash per spend, and a
window of a busy grant holds thousands: done at every reservation it would make a payment's
cost grow with the window's payments. ``WriterCache`` keeps each window's sums after the
first count, as the writer connection sees them, and moves them with every spend the writer
makes, so a reservation costs the same at the first payment and at the ten-thousandth. It
also keeps the grants it read and checked, by the audit entry that last changed each row
(a revocation is a new entry, so a revoked grant is read again).

The sums are only ever trusted inside a write transaction and only while nobody else wrote:
``begin`` compares SQLite's ``PRAGMA data_version`` (it changes when another connection, in
any process, commits), and a change (another daemon's spend, an edit of the file) drops every
sum, so the next reservation counts its window again and checks every seal. A transaction
that does not commit drops them too (``forget``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from signerd.errors import BudgetExceeded, GrantExpired, GrantRevoked
from signerd.grants.caps import Window, window_at
from signerd.grants.request import AllowanceSpec
from signerd.store.grants import StoredGrant, load_grant
from signerd.store.rows import SPEND_SEAL_COLUMNS, check_sealed
from signerd.store.values import INT64_MAX

if TYPE_CHECKING:  # spend_rows imports this module
    from signerd.store.spend_rows import SpendRecord

SPEND_SELECT: Final = f"SELECT spends.*, {SPEND_SEAL_COLUMNS} FROM spends"


@dataclass(frozen=True)
class AllowanceBudget:
    """Where one allowance stands at an instant.

    ``window`` is None when the instant is outside the grant's validity. ``spent`` and
    ``reserved`` are the committed and reserved spends of the window; ``remaining`` is what
    ``reserve_spend`` would accept now (0 for a revoked grant or outside the validity).
    """

    token: str
    period: int
    cap: int
    window: Window | None
    spent: int
    reserved: int
    remaining: int


@dataclass
class _Sums:
    committed: int = 0
    reserved: int = 0


def check_usable(grant: StoredGrant, now: int) -> None:
    """GrantRevoked / GrantExpired unless the grant can be spent from at ``now``."""
    status = grant.status(now)
    if status == "revoked":
        raise GrantRevoked(f"grant {grant.id} is revoked")
    if status == "expired":
        raise GrantExpired(f"grant {grant.id} expired at {grant.valid_until}")
    if status == "pending":
        raise GrantExpired(
            f"grant {grant.id} is not valid before {grant.valid_after}",
            {"validAfter": grant.valid_after},
        )


def count_window(conn: sqlite3.Connection, grant_id: str, token: str, window: Window) -> _Sums:
    """The committed and reserved sums of every spend of ``token`` in the window, each row's
    seal checked (StoreTampered for an edited one).

    Released spends are read and checked too: a spend edited to "released" (or its amount
    lowered) is refused, never left uncounted. Amounts are uint256 text summed here (SQLite's
    SUM would overflow at 2**63); the end is clipped to what SQLite's integers hold.
    """
    sums = _Sums()
    rows = conn.execute(
        f"{SPEND_SELECT} WHERE grant_id = ? AND token = ? AND at >= ? AND at < ?",
        (grant_id, token, window.start, min(window.end, INT64_MAX)),
    )
    for row in rows:
        check_sealed("spends", row)
        if row["status"] == "committed":
            sums.committed += int(row["amount"])
        elif row["status"] == "reserved":
            sums.reserved += int(row["amount"])
    return sums


def budget_of(
    conn: sqlite3.Connection,
    grant: StoredGrant,
    allowance: AllowanceSpec,
    now: int,
    totals: WriterCache | None = None,
) -> AllowanceBudget:
    """The allowance at ``now``: counted from the rows, or from ``totals`` (writer only)."""
    window = window_at(grant.valid_after, grant.valid_until, allowance.period, now)
    if window is None:
        return AllowanceBudget(allowance.token, allowance.period, allowance.amount, None, 0, 0, 0)
    if totals is None:
        sums = count_window(conn, grant.id, allowance.token, window)
    else:
        sums = totals.sums(conn, grant.id, allowance.token, window)
    remaining = max(allowance.amount - sums.committed - sums.reserved, 0)
    return AllowanceBudget(
        allowance.token,
        allowance.period,
        allowance.amount,
        window,
        sums.committed,
        sums.reserved,
        remaining,
    )


def check_fits(budget: AllowanceBudget, amount: int) -> None:
    """BudgetExceeded unless ``amount`` fits what is left of the allowance's window."""
    if amount <= budget.remaining:
        return
    assert budget.window is not None  # the grant is usable, so now is inside its validity
    per = f"per {budget.period} s" if budget.period else "over the grant's validity"
    raise BudgetExceeded(
        f"{amount} of {budget.token} exceeds the {budget.remaining} left in this window"
        f" of its allowance ({budget.cap} {per})",
        {
            "token": budget.token,
            "period": budget.period,
            "cap": str(budget.cap),
            "remaining": str(budget.remaining),
            "windowStart": budget.window.start,
            "windowEnd": budget.window.end,
        },
    )


_MAX_RESERVED: Final = 4096


class WriterCache:
    """What the spend writer read and checked: grants, and the sums of the windows it
    counted, moved by every spend it writes since.

    Keyed by grant and token, then by window: a spend at instant ``at`` moves every counted
    window of its grant and token that contains ``at`` (one per allowance period). Windows
    that ended before the newest counted one are dropped as new ones are counted.
    """

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], dict[Window, _Sums]] = {}
        self._grants: dict[str, tuple[int, StoredGrant]] = {}
        self._grants_checked: set[str] = set()  # looked at in this transaction
        # Spends this writer reserved, by key: their settling skips reading them back.
        self._reserved: dict[str, tuple[int, SpendRecord]] = {}
        self._data_version: int | None = None

    def begin(self, conn: sqlite3.Connection) -> None:
        """At the start of a write transaction: drop everything if another connection wrote."""
        self._grants_checked.clear()
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self.forget()
            self._data_version = version

    def forget(self) -> None:
        """After a transaction that did not commit: its moves are gone, so are the sums."""
        self._windows.clear()
        self._grants.clear()
        self._grants_checked.clear()
        self._reserved.clear()
        self._data_version = None

    def remember_reserved(self, key: str, audit_seq: int, spend: SpendRecord) -> None:
        """``spend`` was just reserved under ``key``, its row sealed by entry ``audit_seq``."""
        if len(self._reserved) >= _MAX_RESERVED:  # reservations never settled: start afresh
            self._reserved.clear()
        self._reserved[key] = (audit_seq, spend)

    def reserved(self, conn: sqlite3.Connection, key: str) -> SpendRecord | None:
        """The spend this writer reserved under ``key`` if its row is still as written (the
        same audit_seq, and no other connection wrote since ``begin``), else None: read it."""
        cached = self._reserved.pop(key, None)  # settled once: not needed after
        if cached is None:
            return None
        row = conn.execute("SELECT audit_seq FROM spends WHERE key = ?", (key,)).fetchone()
        return cached[1] if row is not None and row[0] == cached[0] else None

    def grant(self, conn: sqlite3.Connection, grant_id: str) -> StoredGrant:
        """The grant as ``load_grant`` reads it (GrantNotFound, StoreTampered), read and
        checked again only when its row was changed since (its ``audit_seq`` moved).

        Looked at once per transaction: spend writes never change a grant's row, and no
        other write can run inside the transaction, so a revocation committed before it began
        is seen by its first payment of the grant, and none can come before it commits."""
        if grant_id in self._grants_checked:
            return self._grants[grant_id][1]
        row = conn.execute("SELECT audit_seq FROM grants WHERE id = ?", (grant_id,)).fetchone()
        cached = self._grants.get(grant_id)
        if row is None or cached is None or cached[0] != row[0]:
            grant = load_grant(conn, grant_id)
            assert row is not None  # load_grant found it
            cached = self._grants[grant_id] = (row[0], grant)
        self._grants_checked.add(grant_id)
        return cached[1]

    def sums(self, conn: sqlite3.Connection, grant_id: str, token: str, window: Window) -> _Sums:
        windows = self._windows.setdefault((grant_id, token), {})
        sums = windows.get(window)
        if sums is None:
            for old in [w for w in windows if w.end <= window.start]:
                del windows[old]
            sums = windows[window] = count_window(conn, grant_id, token, window)
        return sums

    def move(self, grant_id: str, token: str, at: int, *, committed: int, reserved: int) -> None:
        """A spend at ``at`` changed the window sums by these amounts (after its rows were
        written, in the same transaction)."""
        for window, sums in self._windows.get((grant_id, token), {}).items():
            if at in window:
                sums.committed += committed
                sums.reserved += reserved
