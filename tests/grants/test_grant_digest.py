"""The hand-written EIP-712 digest of both grant schemas against eth-account's general encoder."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import DOMAIN_VERSION, PRIMARY_TYPE, TYPES, grant_digest
from signerd.grants.schema import MAX_ALLOWANCES, MAX_PAYEES, MAX_TARGETS, UINT64_MAX, UINT256_MAX
from signerd.grants.v1 import DOMAIN_NAME_V1, DOMAIN_VERSION_V1, TYPES_V1

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
uint8s = st.integers(0, 255)
uint64s = st.integers(0, UINT64_MAX) | st.sampled_from([0, UINT64_MAX])
uint256s = st.integers(0, UINT256_MAX) | st.sampled_from([0, UINT256_MAX])
allowances_v1 = st.fixed_dictionaries({"token": addresses, "amount": uint256s, "period": uint64s})
allowances = st.fixed_dictionaries(
    {
        "token": addresses,
        "symbol": st.text(max_size=12),
        "decimals": uint8s,
        "amount": uint256s,
        "period": uint64s,
        "maxPerPayment": uint256s,
    }
)


@st.composite
def grant_typed_data(draw: st.DrawFn) -> dict[str, Any]:
    """A version 2 document with any values of the right types (hashing does not validate)."""
    summary = draw(st.text(max_size=120))
    message = {
        "summary": summary,
        "agent": draw(st.text(max_size=120)),
        "account": draw(addresses),
        "sessionKey": draw(addresses),
        "allowances": draw(st.lists(allowances, max_size=MAX_ALLOWANCES)),
        "payees": draw(st.lists(addresses, max_size=MAX_PAYEES)),
        "targets": draw(st.lists(addresses, max_size=MAX_TARGETS)),
        "validAfter": draw(uint64s),
        "validUntil": draw(uint64s),
        "nonce": draw(uint256s),
    }
    name = draw(st.just(summary) | st.text(max_size=120))
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": name, "version": DOMAIN_VERSION, "chainId": draw(uint256s)},
        "message": message,
    }


@st.composite
def grant_typed_data_v1(draw: st.DrawFn) -> dict[str, Any]:
    message = {
        "account": draw(addresses),
        "sessionKey": draw(addresses),
        "agent": draw(st.text(max_size=120)),
        "summary": draw(st.text(max_size=120)),
        "allowances": draw(st.lists(allowances_v1, max_size=MAX_ALLOWANCES)),
        "targets": draw(st.lists(addresses, max_size=MAX_TARGETS)),
        "validAfter": draw(uint64s),
        "validUntil": draw(uint64s),
        "nonce": draw(uint256s),
    }
    return {
        "types": copy.deepcopy(TYPES_V1),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": DOMAIN_NAME_V1, "version": DOMAIN_VERSION_V1, "chainId": draw(uint256s)},
        "message": message,
    }


def eth_account_digest(typed: dict[str, Any]) -> bytes:
    signable = encode_typed_data(full_message=copy.deepcopy(typed))
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


@settings(max_examples=300, deadline=None)
@given(grant_typed_data())
def test_digest_equals_eth_account(typed: dict[str, Any]) -> None:
    assert grant_digest(typed) == eth_account_digest(typed)


@settings(max_examples=150, deadline=None)
@given(grant_typed_data_v1())
def test_version_1_digest_equals_eth_account(typed: dict[str, Any]) -> None:
    assert grant_digest(typed) == eth_account_digest(typed)


def test_digest_changes_with_every_field(typed_data_sample: dict[str, Any]) -> None:
    base = grant_digest(typed_data_sample)
    changed = copy.deepcopy(typed_data_sample)
    changed["domain"]["name"] += "."
    assert grant_digest(changed) != base
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


SAMPLE_SUMMARY = "0.00001 USDC/day (max 0.000005 each) + 0.000000000000000005 ETH total on Base"


@pytest.fixture
def typed_data_sample() -> dict[str, Any]:
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": SAMPLE_SUMMARY, "version": DOMAIN_VERSION, "chainId": 8453},
        "message": {
            "summary": SAMPLE_SUMMARY,
            "agent": '"bot" via uid 1000 pid 42 exe /usr/bin/python3',
            "account": "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1",
            "sessionKey": "0x5050A4F4b3f9338C3472dcC01A87C76A144b3c9c",
            "allowances": [
                {
                    "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "symbol": "USDC",
                    "decimals": 6,
                    "amount": 10,
                    "period": 86400,
                    "maxPerPayment": 5,
                },
                {
                    "token": "0x0000000000000000000000000000000000000000",
                    "symbol": "ETH",
                    "decimals": 18,
                    "amount": 5,
                    "period": 0,
                    "maxPerPayment": 0,
                },
            ],
            "payees": ["0x3333333333333333333333333333333333333333"],
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
        (lambda t: t["message"].update(payees=[5]), "typedData.message.payees.0"),
        (
            lambda t: t["message"]["allowances"][0].update(decimals=256),
            "typedData.message.allowances.0.decimals",
        ),
        (
            lambda t: t["message"]["allowances"][0].pop("symbol"),
            "typedData.message.allowances.0.symbol",
        ),
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
