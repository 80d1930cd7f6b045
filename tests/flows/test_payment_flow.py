"""The payment flow in process: a grant approved on a FakeSigner, payments signed with its
session key (held by a test key store) within the budget, refusals before any signature."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from signerd.errors import (
    BudgetExceeded,
    ErrorCode,
    GrantExpired,
    GrantRevoked,
    PaymentRefused,
    SignerdError,
    SpendConflict,
)
from signerd.payments.eip3009 import parse_authorization
from tests.payments.factories import (
    BUDGET,
    MAX_PER_PAYMENT,
    authorization,
)
from tests.payments.harness import shop
from tests.support import USDC_BASE


def recovered(typed_data: dict[str, Any], signature: str) -> str:
    signable = encode_typed_data(full_message=typed_data)
    return str(Account.recover_message(signable, signature=signature))


def test_payments_within_the_budget_recover_to_the_session_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            document = authorization(s.address, value=MAX_PER_PAYMENT)
            reply = await s.call(
                "signerd_signPayment", {"grantId": s.grant_id, "typedData": document}
            )
            assert recovered(document, reply["signature"]) == s.address
            assert reply["spend"]["status"] == "committed"
            assert reply["spend"]["amount"] == str(MAX_PER_PAYMENT)
            assert reply["spend"]["key"] == document["message"]["nonce"]
            await s.pay(value=MAX_PER_PAYMENT)
            budget = await s.call("signerd_getBudget", {"grantId": s.grant_id})
            [allowance] = budget["allowances"]
            assert allowance["spent"] == str(2 * MAX_PER_PAYMENT)
            assert allowance["reserved"] == "0"
            assert allowance["remaining"] == str(BUDGET - 2 * MAX_PER_PAYMENT)
            # One day from validAfter, clipped to the grant's end an hour from now.
            grant = s.daemon.store.get_grant(s.grant_id)
            assert grant is not None
            assert (allowance["windowStart"], allowance["windowEnd"]) == (
                grant.valid_after,
                grant.valid_until,
            )
            listed = await s.call("signerd_listSpends", {"grantId": s.grant_id, "limit": 1})
            assert len(listed["spends"]) == 1 and listed["next"] is not None
            rest = await s.call("signerd_listSpends", {"before": listed["next"]})
            assert len(rest["spends"]) == 1
            # The ledger's entry is the payment's audit: one per payment, nothing else.
            assert s.events()[-3:] == ["approved", "spend_committed", "spend_committed"]

    asyncio.run(scenario())


def test_over_budget_is_refused_before_any_signature(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            for _ in range(BUDGET // MAX_PER_PAYMENT):
                await s.pay(value=MAX_PER_PAYMENT)
            left = BUDGET % MAX_PER_PAYMENT
            with pytest.raises(BudgetExceeded) as caught:
                await s.pay(value=left + 1)
            assert caught.value.code == ErrorCode.BUDGET_EXCEEDED
            assert caught.value.data is not None and caught.value.data["remaining"] == str(left)
            assert len(s.spends()) == BUDGET // MAX_PER_PAYMENT  # nothing reserved
            assert s.events()[-2:] == ["request_received", "spend_refused"]
            await s.pay(value=left)  # exactly what is left still goes through

    asyncio.run(scenario())


def test_refusals_leave_no_spend(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            with pytest.raises(PaymentRefused) as caught:
                await s.pay(value=MAX_PER_PAYMENT + 1)
            assert caught.value.data is not None
            assert caught.value.data["reason"] == "over_max_per_payment"
            with pytest.raises(PaymentRefused):
                await s.pay(to="0x" + "55" * 20)
            assert s.spends() == []

    asyncio.run(scenario())


def test_same_nonce_same_content_is_the_same_signature(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            document = authorization(s.address, value=5)
            params = {"grantId": s.grant_id, "typedData": document}
            first = await s.call("signerd_signPayment", params)
            again = await s.call("signerd_signPayment", params)
            assert again["signature"] == first["signature"]
            assert again["spend"]["seq"] == first["spend"]["seq"]
            budget = await s.call("signerd_getBudget", {"grantId": s.grant_id})
            assert budget["allowances"][0]["spent"] == "5"  # counted once

    asyncio.run(scenario())


def test_a_reservation_left_by_a_crash_is_signed_on_retry(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            document = authorization(s.address, value=5)
            auth = parse_authorization(document)
            s.daemon.store.reserve_spend(
                s.grant_id, token=auth.token, amount=5, payee=auth.payee, key=auth.nonce,
                content_hash=auth.content_hash, now=int(time.time()),
            )  # fmt: skip
            reply = await s.call(
                "signerd_signPayment", {"grantId": s.grant_id, "typedData": document}
            )
            assert recovered(document, reply["signature"]) == s.address
            assert reply["spend"]["status"] == "committed"

    asyncio.run(scenario())


def test_a_payment_whose_caller_goes_away_is_still_committed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            await s.pay(value=1)  # the grant and its key are at hand: no await suspends
            paying = asyncio.create_task(s.pay(value=5))
            await asyncio.sleep(0)  # the task ran up to the wait for its write's commit
            paying.cancel()
            with pytest.raises(asyncio.CancelledError):
                await paying
            for _ in range(200):
                if len(s.spends()) == 2:
                    break
                await asyncio.sleep(0.01)
            assert [(sp.amount, sp.status) for sp in s.spends()] == [
                (5, "committed"),
                (1, "committed"),
            ]
            assert s.daemon.store.verify_audit().ok

    asyncio.run(scenario())


def test_same_nonce_other_content_is_a_conflict(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            nonce = "0x" + "77" * 32
            await s.pay(value=5, nonce=nonce)
            with pytest.raises(SpendConflict) as caught:
                await s.pay(value=6, nonce=nonce)
            assert caught.value.code == ErrorCode.SPEND_CONFLICT
            assert [sp.amount for sp in s.spends()] == [5]

    asyncio.run(scenario())


def test_revocation_stops_spending_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            await s.pay(value=5)
            await s.call("signerd_revokeGrant", {"id": s.grant_id})
            with pytest.raises(GrantRevoked):
                await s.pay(value=5)
            budget = await s.call("signerd_getBudget", {"grantId": s.grant_id})
            assert budget["allowances"][0]["remaining"] == "0"
            assert len(s.spends()) == 1

    asyncio.run(scenario())


def test_racing_payments_for_the_last_units_spend_exactly_the_budget(tmp_path: Path) -> None:
    async def scenario() -> None:
        allowance = {"token": USDC_BASE, "amount": "10", "period": 86400}
        async with shop(tmp_path, allowances=[allowance]) as s:
            results = await asyncio.gather(
                *(s.pay(value=1) for _ in range(25)), return_exceptions=True
            )
            paid = [r for r in results if isinstance(r, dict)]
            refused = [r for r in results if isinstance(r, SignerdError)]
            assert len(paid) == 10
            assert all(isinstance(r, BudgetExceeded) for r in refused) and len(refused) == 15
            assert sum(sp.amount for sp in s.spends()) == 10

    asyncio.run(scenario())


def test_expiry_stops_spending_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path) as s:
            grant = s.daemon.store.get_grant(s.grant_id)
            assert grant is not None
            s.daemon.payments.clock = lambda: float(grant.valid_until)
            with pytest.raises(GrantExpired):
                await s.pay(value=5)
            assert s.spends() == []
            assert s.events()[-1] == "spend_refused"

    asyncio.run(scenario())
