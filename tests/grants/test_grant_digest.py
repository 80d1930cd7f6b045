"""The hand-written EIP-712 digest of the grant schema against eth-account's general encoder."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import DOMAIN_NAME, DOMAIN_VERSION, PRIMARY_TYPE, TYPES, grant_digest
from signerd.grants.schema import MAX_ALLOWANCES, MAX_TARGETS, UINT64_MAX, UINT256_MAX

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
uint64s = st.integers(0, UINT64_MAX) | st.sampled_from([0, UINT64_MAX])
uint256s = st.integers(0, UINT256_MAX) | st.sampled_from([0, UINT256_MAX])
allowances = st.fixed_dictionaries({"token": addresses, "amount": uint256s, "period": uint64s})


@st.composite
def grant_typed_data(draw: st.DrawFn) -> dict[str, Any]:
    message = {
        "account": draw(addresses),
        "sessionKey": draw(addresses),
        "agent": draw(st.text(max_size=120)),
        "summary": draw(st.text(max_size=120)),
        "allowances": draw(st.lists(allowances, max_size=MAX_ALLOWANCES)),
        "targets": draw(st.lists(addresses, max_size=MAX_TARGETS)),
        "validAfter": draw(uint64s),
        "validUntil": draw(uint64s),
        "nonce": draw(uint256s),
    }
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": draw(uint256s)},
        "message": message,
    }


def eth_account_digest(typed: dict[str, Any]) -> bytes:
    signable = encode_typed_data(full_message=copy.deepcopy(typed))
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


@settings(max_examples=300, deadline=None)
@given(grant_typed_data())
def test_digest_equals_eth_account(typed: dict[str, Any]) -> None:
    assert grant_digest(typed) == eth_account_digest(typed)


def test_digest_changes_with_every_field(typed_data_sample: dict[str, Any]) -> None:
    base = grant_digest(typed_data_sample)
    for key in typed_data_sample["message"]:
        changed = copy.deepcopy(typed_data_sample)
        value = changed["message"][key]
        if isinstance(value, int):
            changed["message"][key] = value + 1
        elif isinstance(value, list):
            changed["message"][key] = value[:-1]
        else:
            changed["message"][key] = value[:-1] + ("1" if value[-1] != "1" else "2")
        assert grant_digest(changed) != base, key
        assert grant_digest(changed) == eth_account_digest(changed), key


@pytest.fixture
def typed_data_sample() -> dict[str, Any]:
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": 8453},
        "message": {
            "account": "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
            "sessionKey": "0x5050A4F4b3f9338C3472dcC01A87C76A144b3c9c",
            "agent": "bot (uid 1000, pid 42, python3)",
            "summary": "Key 0x5050..3c9c may spend 10 USDC/day",
            "allowances": [
                {
                    "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "amount": 10,
                    "period": 86400,
                },
                {"token": "0x0000000000000000000000000000000000000000", "amount": 5, "period": 0},
            ],
            "targets": ["0x1111111254EEB25477B68fb85Ed929f73A960582"],
            "validAfter": 1_780_000_000,
            "validUntil": 1_780_003_600,
            "nonce": 7,
        },
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t.update(types={**t["types"], "Extra": []}), "typedData.types"),
        (lambda t: t.update(primaryType="Allowance"), "typedData.primaryType"),
        (lambda t: t["domain"].pop("chainId"), "typedData.domain.chainId"),
        (lambda t: t["message"].update(nonce=-1), "typedData.message.nonce"),
        (lambda t: t["message"].update(validAfter=2**64), "typedData.message.validAfter"),
        (lambda t: t["message"].update(validUntil=True), "typedData.message.validUntil"),
        (lambda t: t["message"].update(account="0x1234"), "typedData.message.account"),
        (lambda t: t["message"].update(agent=7), "typedData.message.agent"),
        (lambda t: t["message"].update(targets="0x"), "typedData.message.targets"),
        (
            lambda t: t["message"]["allowances"][1].update(amount="5"),
            "typedData.message.allowances.1.amount",
        ),
    ],
)
def test_values_outside_the_schema_are_refused(
    typed_data_sample: dict[str, Any], change: Any, field: str
) -> None:
    change(typed_data_sample)
    with pytest.raises(ValidationError) as caught:
        grant_digest(typed_data_sample)
    assert caught.value.field == field
