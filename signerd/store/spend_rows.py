"""Spend records: the dataclass, and reading, inserting and settling ledger rows inside a
transaction.

The ledger's writes (spends.py) are built from these; every row read here is checked
against its seal first (rows.py), so an edited row is refused, never counted.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

from signerd.errors import BudgetExceeded, SpendConflict, ValidationError
from signerd.grants.caps import allowances_for
from signerd.store.chain import append_entry
from signerd.store.rows import SPEND_COLUMNS, check_sealed, row_hash
from signerd.store.values import JSONDict
from signerd.store.windows import SPEND_SELECT, WriterCache, budget_of, check_fits, check_usable

SpendStatus = Literal["reserved", "committed", "released"]
_RECORD_FIELDS: Final = ("seq", *SPEND_COLUMNS)
# What a spend's first entry records besides its row hash (the amount as a decimal string:
# JSON readers outside Python lose precision).
_NEW_DETAIL: Final = ("key", "token", "amount", "payee", "content_hash", "at")


@dataclass(frozen=True)
class SpendRecord:
    """One payment in the ledger. ``key`` is its EIP-3009 nonce in lowercase hex ("v1:<n>"
    for a spend carried over from schema version 1); ``token`` and ``payee`` are checksummed;
    ``at`` is the Unix second it was reserved at, which decides the window it counts in.
    """

    seq: int
    key: str
    grant_id: str
    token: str
    amount: int
    payee: str
    content_hash: str
    at: int
    status: SpendStatus
    signature_ref: str | None
    settled_at: float | None  # when it was committed or released

    def to_json(self) -> JSONDict:
        """The record as JSON; the uint256 amount as a decimal string."""
        # Not dataclasses.asdict: it deep-copies every field, and a payment's reply pays it.
        return {
            **{name: getattr(self, name) for name in _RECORD_FIELDS},
            "amount": str(self.amount),
        }


class NewSpend(NamedTuple):
    """A spend asked for, its values already checked (spends.py): what a new row holds."""

    grant_id: str
    token: str
    amount: int
    payee: str
    key: str
    content_hash: str
    now: int
    peer: JSONDict | None

    def content(self) -> tuple[str, str, int, str, str]:
        return (self.grant_id, self.token, self.amount, self.payee, self.content_hash)


def existing_or_fits(
    conn: sqlite3.Connection, cache: WriterCache, spend: NewSpend
) -> SpendRecord | None:
    """The spend already recorded under ``spend.key`` (SpendConflict if it is another
    payment), or None once ``spend`` is checked to fit its grant now: usable, an allowance
    for its token, and room in every such allowance's current window (BudgetExceeded)."""
    existing = find_spend(conn, spend.key)
    if existing is not None:
        if spend.content() != content_of(existing):
            # Another grant's spend (possibly another uid's): nothing of it is told.
            same_grant = existing.grant_id == spend.grant_id
            raise SpendConflict(
                f"key {spend.key} belongs to another spend",
                {"key": spend.key, "status": existing.status if same_grant else None},
            )
        if existing.status == "reserved":  # the caller will sign it
            check_usable(cache.grant(conn, spend.grant_id), spend.now)
        return existing
    grant = cache.grant(conn, spend.grant_id)
    check_usable(grant, spend.now)
    allowances = allowances_for(grant.allowances, spend.token)
    if not allowances:
        raise BudgetExceeded(
            f"grant {spend.grant_id} has no allowance for {spend.token}", {"token": spend.token}
        )
    for allowance in allowances:
        check_fits(budget_of(conn, grant, allowance, spend.now, cache), spend.amount)
    return None


def insert_spend(
    conn: sqlite3.Connection,
    cache: WriterCache,
    spend: NewSpend,
    signature_ref: str | None = None,
) -> SpendRecord:
    """Insert ``spend`` (checked by ``existing_or_fits``) with its one audit entry: reserved
    ("spend_reserved"), or committed with ``signature_ref`` ("spend_committed", which then
    records the whole payment: a payment signed in the same transaction needs no
    reservation of its own in the log)."""
    status: SpendStatus = "reserved" if signature_ref is None else "committed"
    settled_at = None if signature_ref is None else time.time()
    row = (
        *(spend.key, spend.grant_id, spend.token, str(spend.amount), spend.payee),
        *(spend.content_hash, spend.now, status, signature_ref, settled_at),
    )
    values = dict(zip(SPEND_COLUMNS, row, strict=True))
    detail: JSONDict = {name: values[name] for name in _NEW_DETAIL}
    if signature_ref is not None:
        detail["signature_ref"] = signature_ref
    detail["row_hash"] = row_hash("spends", values)
    entry = append_entry(conn, f"spend_{status}", spend.grant_id, spend.peer, detail)
    # fetchall: the statement runs to its end, so nothing is left pending at COMMIT.
    [(seq,)] = conn.execute(
        "INSERT INTO spends (key, grant_id, token, amount, payee, content_hash, at, status,"
        " signature_ref, settled_at, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " RETURNING seq",
        (*row, entry.seq),
    ).fetchall()
    record = SpendRecord(
        *(seq, spend.key, spend.grant_id, spend.token, spend.amount, spend.payee),
        *(spend.content_hash, spend.now, status, signature_ref, settled_at),
    )
    if signature_ref is None:
        cache.move(spend.grant_id, spend.token, spend.now, committed=0, reserved=spend.amount)
        cache.remember_reserved(spend.key, entry.seq, record)
    else:
        cache.move(spend.grant_id, spend.token, spend.now, committed=spend.amount, reserved=0)
    return record


def content_of(spend: SpendRecord) -> tuple[str, str, int, str, str]:
    """What a spend is, as opposed to where it stands: same key and content is a retry."""
    return (spend.grant_id, spend.token, spend.amount, spend.payee, spend.content_hash)


def find_spend(conn: sqlite3.Connection, key: str) -> SpendRecord | None:
    row = conn.execute(f"{SPEND_SELECT} WHERE key = ?", (key,)).fetchone()
    return None if row is None else spend_from_row(row)


def settleable(
    conn: sqlite3.Connection, cache: WriterCache, key: str, target: SpendStatus
) -> SpendRecord:
    """The spend, if it can end as ``target``: reserved, or already there."""
    spend: SpendRecord | None = cache.reserved(conn, key) or find_spend(conn, key)
    if spend is None:
        raise ValidationError("key", f"no spend has the key {key}")
    if spend.status not in ("reserved", target):
        raise SpendConflict(
            f"spend {key} is {spend.status}; it cannot be {target}",
            {"key": key, "status": spend.status},
        )
    return spend


def settle(
    conn: sqlite3.Connection,
    cache: WriterCache,
    spend: SpendRecord,
    status: SpendStatus,
    signature_ref: str | None,
    peer: JSONDict | None,
    detail: JSONDict,
) -> SpendRecord:
    """Settle the spend, with its "spend_<status>" entry recording the row's new hash."""
    settled = dataclasses.replace(
        spend, status=status, signature_ref=signature_ref, settled_at=time.time()
    )
    values = settled.to_json()
    sealed = {**detail, "row_hash": row_hash("spends", values)}
    entry = append_entry(conn, f"spend_{status}", spend.grant_id, peer, sealed)
    conn.execute(
        "UPDATE spends SET status = ?, signature_ref = ?, settled_at = ?, audit_seq = ?"
        " WHERE key = ?",
        (status, signature_ref, settled.settled_at, entry.seq, spend.key),
    )
    committed = spend.amount if status == "committed" else 0
    cache.move(spend.grant_id, spend.token, spend.at, committed=committed, reserved=-spend.amount)
    return settled


def spend_from_row(row: sqlite3.Row) -> SpendRecord:
    """The spend of a row read with its seal columns; StoreTampered if it was edited."""
    check_sealed("spends", row)
    return SpendRecord(
        seq=row["seq"],
        key=row["key"],
        grant_id=row["grant_id"],
        token=row["token"],
        amount=int(row["amount"]),
        payee=row["payee"],
        content_hash=row["content_hash"],
        at=row["at"],
        status=row["status"],
        signature_ref=row["signature_ref"],
        settled_at=row["settled_at"],
    )
