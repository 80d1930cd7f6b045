"""Grants that allow payments and EIP-3009 authorizations under them, for the payment tests."""

from __future__ import annotations

import secrets
import time
from typing import Any

from eth_keys.datatypes import PrivateKey

from emulator.keys import MASTER_ADDRESS
from signerd.grants import parse_grant_request
from signerd.grants.typed_data import build_grant_typed_data, grant_digest, grant_id
from signerd.payments.eip3009 import transfer_authorization
from signerd.store import StoredGrant
from tests.support import USDC_BASE

PAYEE = "0x3333333333333333333333333333333333333333"
OTHER_PAYEE = "0x4444444444444444444444444444444444444444"
BUDGET = 100  # base units of USDC per day
MAX_PER_PAYMENT = 40
USDC_BASE_DOMAIN = {
    "name": "USD Coin",
    "version": "2",
    "chainId": 8453,
    "verifyingContract": USDC_BASE,
}


def new_key() -> PrivateKey:
    return PrivateKey(secrets.token_bytes(32))


def payment_grant_params(session_key: str, **overrides: Any) -> dict[str, Any]:
    """A signerd_requestGrant request: BUDGET of USDC a day, at most MAX_PER_PAYMENT each, to
    PAYEE only, valid for an hour from now."""
    now = int(time.time())
    params: dict[str, Any] = {
        "agent": "shopper",
        "sessionKey": session_key,
        "chainId": 8453,
        "allowances": [
            {
                "token": USDC_BASE,
                "amount": str(BUDGET),
                "period": 86400,
                "maxPerPayment": str(MAX_PER_PAYMENT),
            }
        ],
        "payees": [PAYEE],
        "targets": [],
        "validAfter": now - 60,
        "validUntil": now + 3600,
    }
    params.update(overrides)
    return params


def stored_payment_grant(session_key: str, **overrides: Any) -> StoredGrant:
    """The grant payment_grant_params asks for, as the store would keep it (unsigned: the
    checks read the document, not the signature)."""
    request = parse_grant_request(payment_grant_params(session_key, **overrides), now=0)
    typed_data = build_grant_typed_data(
        request.named_by({}), account=MASTER_ADDRESS, agent='"shopper" via uid 1000', nonce=1
    )
    document = {
        "id": grant_id(grant_digest(typed_data)),
        "typedData": typed_data,
        "signature": "0x" + "ab" * 65,
        "signer": MASTER_ADDRESS,
    }
    return StoredGrant.from_document(document, device="test", peer_uid=1000, created_at=0.0)


def authorization(
    sender: str, *, value: int = 10, to: str = PAYEE, nonce: str | None = None, **changes: Any
) -> dict[str, Any]:
    """An EIP-3009 TransferWithAuthorization of USDC on Base, as x402's client builds it;
    ``changes`` replace top-level parts (domain, types, primaryType, message)."""
    document = transfer_authorization(
        USDC_BASE_DOMAIN, sender, to, value, int(time.time()) + 300, nonce=nonce
    )
    document.update(changes)
    return document
