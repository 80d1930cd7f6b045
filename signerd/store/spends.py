"""The spend ledger: payments within a grant's allowances, reserved before they are signed.

A payment's life: ``reserve_spend`` (checked against the signed grant and written durably,
before any signature exists) -> sign -> ``commit_spend``; or ``release_spend`` when the
signature was never produced. A signer in the daemon's own process (the held session keys)
goes through all three in one write, ``pay_write``: one row and one "spend_committed"
entry, its signature handed back only once they are on disk; a crash before that loses the
signature with the process. The caps come only from the grant document the device signed,
as stored; a caller can name a grant and a token but never a cap or a period.

Each spend carries an idempotency key, the payment's EIP-3009 nonce (0x + 64 hex), and the
hash of its content. Reserving the same key with the same content again returns the first
record; the same key with other content is a SpendConflict. So a retried payment is counted
once and a nonce is never signed for two different payments.

Counting: a spend belongs to the period window (signerd.grants.caps.window_at) containing the
second it was reserved at, and counts against every allowance of its token whose window that
is, whether reserved or committed. A reservation whose signature may have left the daemon is
spent as far as the cap is concerned: after a crash it still counts until someone releases it
explicitly. The check and the insert are one ``BEGIN IMMEDIATE`` transaction, so two daemons
or threads can never both spend the same remaining headroom.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from typing import Any, Final, TypeVar

from signerd.addresses import checksum_address
from signerd.errors import (
    SpendConflict,
    ValidationError,
)
from signerd.store.batch import GroupCommit, Write
from signerd.store.db import Database
from signerd.store.grants import load_grant
from signerd.store.loop_commit import LoopGroupCommit
from signerd.store.spend_rows import (
    NewSpend,
    SpendRecord,
    existing_or_fits,
    find_spend,
    insert_spend,
    settle,
    settleable,
    spend_from_row,
)
from signerd.store.values import (
    INT64_MAX,
    UINT256_LIMIT,
    JSONDict,
    check_page,
    check_uint,
    hex_bytes,
    json_object,
)
from signerd.store.windows import (
    SPEND_SELECT,
    AllowanceBudget,
    WriterCache,
    budget_of,
)

T = TypeVar("T")
_SELECT: Final = SPEND_SELECT
MAX_SIGNATURE_REF: Final = 1024


class SpendsMixin:
    """The Store's spend-ledger methods."""

    _db: Database
    _writer_cache: WriterCache
    _spend_writes: GroupCommit
    _loop_spend_writes: LoopGroupCommit

    def submit_spend_write(self, write: Write[T], *, durable: bool = True) -> asyncio.Future[T]:
        """Queue a ``*_write`` for the next group commit, from the event loop: its future
        resolves once the batch it ran in committed."""
        return self._loop_spend_writes.submit(write, durable=durable)

    def reserve_spend(
        self,
        grant_id: str,
        *,
        token: str,
        amount: int,
        payee: str,
        key: str,
        content_hash: str,
        now: int,
        peer: JSONDict | None = None,
    ) -> SpendRecord:
        """``reserve_write`` run and waited for (from a thread that may block)."""
        write = self.reserve_write(
            grant_id,
            token=token,
            amount=amount,
            payee=payee,
            key=key,
            content_hash=content_hash,
            now=now,
            peer=peer,
        )
        return self._spend_writes.run(write)

    def commit_spend(
        self, key: str, *, signature_ref: str | None = None, peer: JSONDict | None = None
    ) -> SpendRecord:
        """``commit_write`` run and waited for (from a thread that may block)."""
        return self._spend_writes.run(
            self.commit_write(key, signature_ref=signature_ref, peer=peer)
        )

    def release_spend(self, key: str, *, peer: JSONDict | None = None) -> SpendRecord:
        """``release_write`` run and waited for (from a thread that may block)."""
        return self._spend_writes.run(self.release_write(key, peer=peer))

    def reserve_write(
        self,
        grant_id: str,
        *,
        token: str,
        amount: int,
        payee: str,
        key: str,
        content_hash: str,
        now: int,
        peer: JSONDict | None = None,
    ) -> Write[SpendRecord]:
        """The write reserving ``amount`` of ``token`` for a payment to ``payee``, with its
        audit entry ("spend_reserved"); it returns the reserved record. The arguments are
        checked at once (ValidationError), the rest when it runs.

        Raises GrantNotFound, GrantRevoked, GrantExpired (also when ``now`` is before the
        grant's validAfter), BudgetExceeded (no allowance for the token, or the amount does
        not fit the remaining of one of its allowances' current window), ValidationError for
        a malformed argument. ``key`` already used: with the same grant, token, amount, payee
        and content hash, the existing record is returned as it stands (committed, released
        or reserved; a reserved one only while the grant is still usable, since the caller
        will sign it), with anything different SpendConflict.
        """
        spend = _new_spend(grant_id, token, amount, payee, key, content_hash, now, peer)
        cache = self._writer_cache

        def write(conn: sqlite3.Connection) -> SpendRecord:
            existing = existing_or_fits(conn, cache, spend)
            return insert_spend(conn, cache, spend) if existing is None else existing

        return write

    def pay_write(
        self,
        grant_id: str,
        *,
        token: str,
        amount: int,
        payee: str,
        key: str,
        content_hash: str,
        now: int,
        sign: Callable[[], bytes],
        peer: JSONDict | None = None,
    ) -> Write[tuple[SpendRecord, bytes]]:
        """The reservation's checks (as ``reserve_write``), ``sign()`` and the committed spend
        as one write, for a signer in this process: the committed record and the signature
        (r || s || v), which exists outside the write only once its transaction committed.
        A new payment is one row and one "spend_committed" entry recording all of it. A
        signature that fails writes nothing.

        The checks raise before ``sign`` is called; a key already committed returns its
        stored signature without signing, a released one is a SpendConflict, and one
        reserved (left by a crash, or by a signer outside the daemon) is signed and
        committed now.
        """
        spend = _new_spend(grant_id, token, amount, payee, key, content_hash, now, peer)
        cache = self._writer_cache

        def write(conn: sqlite3.Connection) -> tuple[SpendRecord, bytes]:
            existing = existing_or_fits(conn, cache, spend)
            if existing is None:
                signature = sign()
                return insert_spend(conn, cache, spend, "0x" + signature.hex()), signature
            if existing.status == "released":
                raise SpendConflict(
                    f"the payment with key {existing.key} was released unsigned: use a new key",
                    {"key": existing.key, "status": existing.status},
                )
            if existing.status == "committed":
                stored = _stored_signature(existing)
                if stored is None:
                    raise SpendConflict(
                        f"the payment with key {existing.key} was committed without its signature",
                        {"key": existing.key, "status": existing.status},
                    )
                return existing, stored
            signature = sign()
            ref = "0x" + signature.hex()
            detail = {"key": existing.key, "signature_ref": ref}
            committed = settle(conn, cache, existing, "committed", ref, spend.peer, detail)
            return committed, signature

        return write

    def commit_write(
        self, key: str, *, signature_ref: str | None = None, peer: JSONDict | None = None
    ) -> Write[SpendRecord]:
        """The write marking a reserved spend committed (its signature was produced), with a
        "spend_committed" audit entry; ``signature_ref`` says where the signature is.

        Idempotent: committing a committed spend again returns it (SpendConflict if another
        ``signature_ref`` is given). SpendConflict for a released spend; ValidationError
        ("key") for a key with no spend. A committed spend still counts against the grant
        even if the grant was revoked since: the payment was signed.
        """
        key = hex_bytes("key", key, 32)
        if signature_ref is not None and (
            not isinstance(signature_ref, str) or len(signature_ref) > MAX_SIGNATURE_REF
        ):
            raise ValidationError(
                "signature_ref", f"must be at most {MAX_SIGNATURE_REF} characters"
            )
        peer = json_object("peer", peer)
        cache = self._writer_cache

        def write(conn: sqlite3.Connection) -> SpendRecord:
            spend = settleable(conn, cache, key, "committed")
            if spend.status == "committed":
                if signature_ref not in (None, spend.signature_ref):
                    raise SpendConflict(
                        f"spend {key} was committed with another signature_ref",
                        {"key": key, "status": spend.status},
                    )
                return spend
            detail = {"key": key, "signature_ref": signature_ref}
            return settle(conn, cache, spend, "committed", signature_ref, peer, detail)

        return write

    def release_write(self, key: str, *, peer: JSONDict | None = None) -> Write[SpendRecord]:
        """The write releasing a reservation whose signature never left, with a
        "spend_released" audit entry: it no longer counts against the cap. Only the caller
        that reserved it can know that; after a crash, a reservation stays counted until
        released explicitly.

        Idempotent for a released spend; SpendConflict for a committed one; ValidationError
        ("key") for a key with no spend.
        """
        key = hex_bytes("key", key, 32)
        peer = json_object("peer", peer)
        cache = self._writer_cache

        def write(conn: sqlite3.Connection) -> SpendRecord:
            spend = settleable(conn, cache, key, "released")
            if spend.status == "released":
                return spend
            return settle(conn, cache, spend, "released", None, peer, {"key": key})

        return write

    def get_spend(self, key: str) -> SpendRecord | None:
        """The spend with that key (any hex case), or None."""
        with self._db.read() as conn:
            return find_spend(conn, hex_bytes("key", key, 32))

    def budget(self, grant_id: str, now: int) -> list[AllowanceBudget]:
        """Every allowance of the grant as it stands at ``now``, in the grant's order.

        Raises GrantNotFound for an unknown grant.
        """
        check_uint("now", now, INT64_MAX)
        with self._db.read() as conn:
            grant = load_grant(conn, grant_id)
            allowances = grant.allowances
            budgets = [budget_of(conn, grant, allowance, now) for allowance in allowances]
        if grant.revoked_at is not None:
            return [dataclasses.replace(b, remaining=0) for b in budgets]
        return budgets

    def list_spends(
        self,
        *,
        grant_id: str | None = None,
        peer_uid: int | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> list[SpendRecord]:
        """Spends newest first (by ``seq``), at most ``limit`` (1..1000), optionally one
        grant's, or only those of the grants ``peer_uid`` requested; pass the last record's
        ``seq`` as ``before`` for the next page.
        """
        check_page(limit)
        clauses: list[str] = []
        params: list[Any] = []
        if grant_id is not None:
            clauses.append("grant_id = ?")
            params.append(grant_id)
        if peer_uid is not None:
            clauses.append("grant_id IN (SELECT id FROM grants WHERE peer_uid = ?)")
            params.append(peer_uid)
        if before is not None:
            check_uint("before", before, INT64_MAX)
            clauses.append("seq < ?")
            params.append(before)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as conn:
            rows = conn.execute(
                f"{_SELECT} {where} ORDER BY seq DESC LIMIT ?", [*params, limit]
            ).fetchall()
        return [spend_from_row(row) for row in rows]


def _stored_signature(spend: SpendRecord) -> bytes | None:
    """The 65-byte signature a committed spend records, or None if it records none (a spend
    committed through ``commit_spend`` may name its signature any other way)."""
    ref = spend.signature_ref
    if ref is None or len(ref) != 132 or not ref.startswith("0x"):
        return None
    try:
        return bytes.fromhex(ref[2:])
    except ValueError:
        return None


def _new_spend(
    grant_id: str,
    token: str,
    amount: int,
    payee: str,
    key: str,
    content_hash: str,
    now: int,
    peer: JSONDict | None,
) -> NewSpend:
    """The arguments of a reservation or payment, checked (ValidationError) and normalised."""
    token = _address("token", token)
    payee = _address("payee", payee)
    key = hex_bytes("key", key, 32)
    content_hash = hex_bytes("content_hash", content_hash, 32)
    check_uint("amount", amount, UINT256_LIMIT)
    if amount == 0:
        raise ValidationError("amount", "must be positive")
    check_uint("now", now, INT64_MAX)
    peer = json_object("peer", peer)
    return NewSpend(grant_id, token, amount, payee, key, content_hash, now, peer)


def _address(field: str, value: str) -> str:
    return checksum_address(hex_bytes(field, value, 20))
