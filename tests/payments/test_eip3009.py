"""The EIP-3009 checks, pure: what a grant lets a session key sign, and each refusal's reason."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from eth_account import Account

from signerd.errors import ErrorCode, PaymentRefused
from signerd.payments.eip3009 import check_against_grant, parse_authorization
from signerd.store import StoredGrant
from tests.payments.factories import (
    MAX_PER_PAYMENT,
    OTHER_PAYEE,
    authorization,
    new_key,
    stored_payment_grant,
)
from tests.support import SEPOLIA_USDC

SESSION = new_key().public_key.to_checksum_address()


def refusal(typed_data: Any, grant: StoredGrant | None = None) -> str:
    """The reason slug a refusal of ``typed_data`` under ``grant`` gives."""
    with pytest.raises(PaymentRefused) as caught:
        check_against_grant(
            parse_authorization(typed_data),
            grant or stored_payment_grant(SESSION),
            int(time.time()),
        )
    assert caught.value.code == ErrorCode.PAYMENT_REFUSED
    assert caught.value.data is not None
    return str(caught.value.data["reason"])


@pytest.mark.parametrize("primary", ["TransferWithAuthorization", "ReceiveWithAuthorization"])
def test_digest_is_eth_accounts(primary: str) -> None:
    key = new_key()
    document = authorization(key.public_key.to_checksum_address(), value=12345)
    document["types"] = {primary: document["types"]["TransferWithAuthorization"]}
    document["primaryType"] = primary
    auth = parse_authorization(document)
    signed = Account.sign_typed_data(key.to_hex(), full_message=copy.deepcopy(document))
    assert auth.digest == bytes(signed.message_hash)
    assert auth.content_hash == "0x" + auth.digest.hex()


def test_a_payment_within_the_grant_passes() -> None:
    grant = stored_payment_grant(SESSION)
    document = authorization(SESSION, value=MAX_PER_PAYMENT)
    document["types"]["EIP712Domain"] = [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ]
    document["message"]["value"] = str(MAX_PER_PAYMENT)  # decimal strings are uint256 too
    check_against_grant(parse_authorization(document), grant, int(time.time()))


def test_any_payee_when_the_grant_lists_none() -> None:
    grant = stored_payment_grant(SESSION, payees=[])
    check_against_grant(
        parse_authorization(authorization(SESSION, to=OTHER_PAYEE)), grant, int(time.time())
    )


def _changed(path: str, value: Any) -> dict[str, Any]:
    document = authorization(SESSION)
    part, _, key = path.partition(".")
    if key:
        document[part][key] = value
    else:
        document[part] = value
    return document


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (_changed("primaryType", "Permit"), "not_eip3009"),
        (_changed("domain.salt", "0x" + "00" * 32), "not_eip3009"),
        (_changed("message.extra", 1), "not_eip3009"),
        (_changed("message.value", -1), "not_eip3009"),
        (_changed("message.value", 2**256), "not_eip3009"),
        (_changed("message.nonce", "0x1234"), "not_eip3009"),
        (_changed("message.to", "not an address"), "not_eip3009"),
        (
            _changed(
                "types",
                {"TransferWithAuthorization": [{"name": "from", "type": "address"}]},
            ),
            "not_eip3009",
        ),
        (
            _changed(
                "types",
                {
                    "TransferWithAuthorization": authorization(SESSION)["types"][
                        "TransferWithAuthorization"
                    ],
                    "Extra": [],
                },
            ),
            "not_eip3009",
        ),
        (authorization(new_key().public_key.to_checksum_address()), "wrong_from"),
        (_changed("domain", {**authorization(SESSION)["domain"], "chainId": 1}), "wrong_chain"),
        (
            _changed(
                "domain", {**authorization(SESSION)["domain"], "verifyingContract": SEPOLIA_USDC}
            ),
            "token_not_allowed",
        ),
        (authorization(SESSION, to=OTHER_PAYEE), "payee_not_allowed"),
        (authorization(SESSION, value=0), "zero_value"),
        (authorization(SESSION, value=MAX_PER_PAYMENT + 1), "over_max_per_payment"),
    ],
)
def test_refusals(document: dict[str, Any], reason: str) -> None:
    assert refusal(document) == reason


@pytest.mark.parametrize(
    ("valid_after", "valid_before", "reason"),
    [
        (0, 10**12, "valid_after_grant"),
        (0, 1000, "authorization_expired"),
        ("now+100", "now+100", "empty_validity"),
    ],
)
def test_validity_refusals(valid_after: Any, valid_before: Any, reason: str) -> None:
    now = int(time.time())

    def at(value: Any) -> int:
        return now + int(value[4:]) if isinstance(value, str) else int(value)

    document = authorization(SESSION)
    document["message"].update(validAfter=at(valid_after), validBefore=at(valid_before))
    assert refusal(document) == reason


def test_not_a_mapping_is_refused() -> None:
    for value in (None, [], "x", {"domain": {}}):
        with pytest.raises(PaymentRefused):
            parse_authorization(value)
