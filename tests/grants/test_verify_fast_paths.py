"""The fast parts of grant verification against the libraries they replace on the hot path.

- the digest (plain straight-line path and validating path) equals eth-account's
  ``encode_typed_data`` hash on random grants with edge values (uint256 max, empty arrays,
  long and non-ASCII strings);
- recovery through coincurve answers what eth-keys answered, refusals word for word;
- EIP-55 checksums equal eth-utils';
- the cache of checked allowances never mistakes one JSON value for another, and never lets a
  caller's change to one result reach the next.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as KeysValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.addresses import checksum_address, is_hex_address
from signerd.addresses import to_checksum_address as any_form_checksum
from signerd.errors import ValidationError
from signerd.grants import DOMAIN_VERSION, PRIMARY_TYPE, TYPES, grant_digest, verify_grant
from signerd.grants.digest import _plain_v2
from signerd.grants.schema import MAX_ALLOWANCES, MAX_PAYEES, MAX_TARGETS, UINT64_MAX, UINT256_MAX
from signerd.grants.typed_data import normalize_signature, recover_signer
from tests.support import NOW_SECONDS

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
any_case_addresses = (
    addresses.map(to_checksum_address) | addresses | addresses.map(lambda a: "0x" + a[2:].upper())
)
uint8s = st.integers(0, 255) | st.just(255)
uint64s = st.sampled_from([0, 1, UINT64_MAX]) | st.integers(0, UINT64_MAX)
uint256s = st.sampled_from([0, 1, UINT256_MAX, UINT256_MAX - 1]) | st.integers(0, UINT256_MAX)
strings = (
    st.text(max_size=40)
    | st.text(min_size=1000, max_size=5000)
    | st.sampled_from(["", "x" * 10_000, "é€😀\x00\n\"'\\", "\u2028"])
)


def lists(items: st.SearchStrategy[Any], most: int) -> st.SearchStrategy[list[Any]]:
    return st.just([]) | st.lists(items, max_size=most)


allowances = st.fixed_dictionaries(
    {
        "token": any_case_addresses,
        "symbol": strings,
        "decimals": uint8s,
        "amount": uint256s,
        "period": uint64s,
        "maxPerPayment": uint256s,
    }
)


@st.composite
def typed_data(draw: st.DrawFn) -> dict[str, Any]:
    summary = draw(strings)
    return {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {
            "name": draw(st.just(summary) | strings),
            "version": DOMAIN_VERSION,
            "chainId": draw(uint256s),
        },
        "message": {
            "summary": summary,
            "agent": draw(strings),
            "account": draw(any_case_addresses),
            "sessionKey": draw(any_case_addresses),
            "allowances": draw(lists(allowances, MAX_ALLOWANCES)),
            "payees": draw(lists(any_case_addresses, MAX_PAYEES)),
            "targets": draw(lists(any_case_addresses, MAX_TARGETS)),
            "validAfter": draw(uint64s),
            "validUntil": draw(uint64s),
            "nonce": draw(uint256s),
        },
    }


def eth_account_digest(typed: dict[str, Any]) -> bytes:
    """The hash ``Account.recover_message`` recovers over (eth-account's own keccak)."""
    signable = encode_typed_data(full_message=copy.deepcopy(typed))
    return bytes(keccak(b"\x19" + signable.version + signable.header + signable.body))


def as_tuples(value: Any) -> Any:
    """The same values with every array a tuple: not plain, so the validating path runs."""
    if isinstance(value, dict):
        return {key: as_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(as_tuples(item) for item in value)
    return value


@settings(max_examples=250, deadline=None)
@given(typed_data())
def test_both_digest_paths_equal_eth_account(typed: dict[str, Any]) -> None:
    expected = eth_account_digest(typed)
    assert _plain_v2(typed["domain"], typed["message"]) == expected  # the straight-line path
    assert grant_digest(typed) == expected
    slow = {**typed, "domain": as_tuples(typed["domain"]), "message": as_tuples(typed["message"])}
    assert _plain_v2(slow["domain"], slow["message"]) is None
    assert grant_digest(slow) == expected  # the validating path


def test_edge_values_equal_eth_account() -> None:
    big = {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": "é" * 3000, "version": DOMAIN_VERSION, "chainId": UINT256_MAX},
        "message": {
            "summary": "s" * 100_000,
            "agent": "",
            "account": "0x" + "f" * 40,
            "sessionKey": "0x" + "0" * 40,
            "allowances": [
                {
                    "token": "0x" + "F" * 40,
                    "symbol": "",
                    "decimals": 255,
                    "amount": UINT256_MAX,
                    "period": UINT64_MAX,
                    "maxPerPayment": UINT256_MAX,
                }
            ],
            "payees": [],
            "targets": [],
            "validAfter": UINT64_MAX,
            "validUntil": 0,
            "nonce": UINT256_MAX,
        },
    }
    assert grant_digest(big) == eth_account_digest(big)


class Wide(int):
    """An int subclass: hashed like the int, by the validating path."""


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda m: m.update(nonce=UINT256_MAX + 1),
            "typedData.message.nonce",
            "must be an integer from 0 to 2**256 - 1",
        ),
        (
            lambda m: m.update(validAfter=True),
            "typedData.message.validAfter",
            "must be an integer from 0 to 2**64 - 1",
        ),
        (
            lambda m: m.update(account="0x" + "g" * 40),
            "typedData.message.account",
            "must be 0x followed by 40 hexadecimal digits",
        ),
        (
            lambda m: m.update(payees=["0x" + "1" * 39 + " "]),
            "typedData.message.payees.0",
            "must be 0x followed by 40 hexadecimal digits",
        ),
        (
            lambda m: m["allowances"].append({"token": "0x" + "1" * 40}),
            "typedData.message.allowances.0.symbol",
            "is required",
        ),
        (lambda m: m.update(agent=b"x"), "typedData.message.agent", "must be a string"),
        (lambda m: m.update(targets={}), "typedData.message.targets", "must be an array"),
        (
            lambda m: m.update(allowances=[[]]),
            "typedData.message.allowances.0",
            "must be an object",
        ),
    ],
)
def test_refusals_name_the_value(change: Any, field: str, message: str) -> None:
    typed = {
        "types": copy.deepcopy(TYPES),
        "primaryType": PRIMARY_TYPE,
        "domain": {"name": "n", "version": DOMAIN_VERSION, "chainId": 1},
        "message": {
            "summary": "s",
            "agent": "a",
            "account": "0x" + "1" * 40,
            "sessionKey": "0x" + "2" * 40,
            "allowances": [],
            "payees": [],
            "targets": [],
            "validAfter": 0,
            "validUntil": Wide(1),
            "nonce": 0,
        },
    }
    change(typed["message"])
    with pytest.raises(ValidationError) as caught:
        grant_digest(typed)
    assert (caught.value.field, caught.value.message) == (field, message)


def eth_keys_recover(digest: bytes, signature: bytes) -> str:
    """The recovery verification used before (eth-keys' Signature and PublicKey)."""
    canonical = normalize_signature(signature)
    try:
        recovered = Signature(canonical[:64] + bytes([canonical[64] - 27]))
        public_key = recovered.recover_public_key_from_msg_hash(digest)
    except (BadSignature, KeysValidationError) as exc:
        raise ValidationError("signature", f"does not recover to any key ({exc})") from exc
    return str(to_checksum_address(public_key.to_canonical_address()))


def outcome(recover: Any, digest: bytes, signature: bytes) -> tuple[str, str]:
    try:
        return "signer", recover(digest, signature)
    except ValidationError as exc:
        return "refused", str(exc)


scalars = st.sampled_from([0, 1, SECP256K1_N // 2, SECP256K1_N - 1, SECP256K1_N, 2**256 - 1])


@settings(max_examples=300, deadline=None)
@given(
    digest=st.binary(min_size=32, max_size=32),
    r=scalars | st.integers(0, 2**256 - 1),
    s=scalars | st.integers(0, SECP256K1_N // 2),
    v=st.sampled_from([0, 1, 27, 28, 29, 2]),
)
def test_recovery_answers_as_eth_keys(digest: bytes, r: int, s: int, v: int) -> None:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    assert outcome(recover_signer, digest, signature) == outcome(
        eth_keys_recover, digest, signature
    )


def test_recovery_of_real_signatures() -> None:
    for index in range(1, 20):
        account = Account.from_key(index.to_bytes(32, "big"))
        digest = bytes([index]) * 32
        signature = bytes(account.unsafe_sign_hash(digest).signature)
        assert recover_signer(digest, signature) == account.address


@settings(max_examples=300, deadline=None)
@given(any_case_addresses)
def test_checksums_equal_eth_utils(address: str) -> None:
    assert checksum_address(address) == to_checksum_address(address)


@pytest.mark.parametrize("value", ["0x1234", "0x" + "g" * 40, "", "1" * 40 + "zz"])
def test_checksum_refuses_what_eth_utils_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        to_checksum_address(value)
    with pytest.raises(ValueError):
        checksum_address(value)
    with pytest.raises(ValueError):
        any_form_checksum(value)


@settings(max_examples=100, deadline=None)
@given(any_case_addresses)
def test_every_form_eth_utils_takes_checksums_alike(address: str) -> None:
    """The onchain code's to_checksum_address: 20 bytes and unprefixed hex too (eth-utils',
    imported on first use), a 0x string the cached way."""
    expected = to_checksum_address(address)
    raw = bytes.fromhex(address[2:])
    for form in (address, address[2:], "0X" + address[2:], raw):
        assert any_form_checksum(form) == expected
    assert is_hex_address(address) and is_hex_address(address[2:])
    assert not is_hex_address(address[:-1]) and not is_hex_address(raw)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="0123456789abcdefABCDEFxXg \u212a", min_size=38, max_size=44)
    | any_case_addresses
    | any_case_addresses.map(lambda a: a[2:])
    | any_case_addresses.map(lambda a: "0X" + a[2:])
    | st.integers()
)
def test_is_hex_address_answers_as_eth_utils(value: object) -> None:
    from eth_utils.address import is_hex_address as eth_utils_is_hex_address

    assert is_hex_address(value) == eth_utils_is_hex_address(value)


def test_allowance_values_are_told_apart(grant: dict[str, Any]) -> None:
    """An allowance checked and kept, then the same with values JSON tells apart."""
    assert verify_grant(grant, now=NOW_SECONDS + 10).valid
    as_bool = copy.deepcopy(grant)
    as_bool["typedData"]["message"]["allowances"][1]["period"] = False  # 0 as a boolean
    refused = verify_grant(as_bool, now=NOW_SECONDS + 10)
    assert (refused.reason, refused.detail) == (
        "malformed",
        "typedData.message.allowances.1.period: must be an integer, not a boolean",
    )
    as_float = copy.deepcopy(grant)
    as_float["typedData"]["message"]["allowances"][1]["period"] = 0.0
    assert verify_grant(as_float, now=NOW_SECONDS + 10).reason == "malformed"
    as_text = copy.deepcopy(grant)
    as_text["typedData"]["message"]["allowances"][0]["amount"] = "10000000"
    assert verify_grant(as_text, now=NOW_SECONDS + 10).valid


def test_results_do_not_share_terms(grant: dict[str, Any]) -> None:
    first = verify_grant(grant, now=NOW_SECONDS + 10)
    assert first.terms is not None
    expected = copy.deepcopy(first.terms)
    first.terms["allowances"][0]["amount"] = 1
    first.terms["allowances"].clear()
    again = verify_grant(grant, now=NOW_SECONDS + 10)
    assert again.valid and again.terms == expected
