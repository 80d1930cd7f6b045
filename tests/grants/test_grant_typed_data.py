"""EIP-712 rendering: the document shape, its digest, the signed grant, and the screen limits."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import (
    DOMAIN_VERSION,
    MAX_STRING,
    PRIMARY_TYPE,
    TYPES,
    ZERO_ADDRESS,
    agent_description,
    build_grant_typed_data,
    grant_digest,
    parse_grant_request,
    signed_grant,
    summarize,
)
from signerd.grants.agent import AGENT_PATTERN
from signerd.grants.schema import (
    MAX_ALLOWANCES,
    MAX_CHAIN_ID,
    MAX_FIELD_NAME,
    MAX_LABEL,
    MAX_PAYEES,
    MAX_TARGETS,
    MAX_WINDOW,
    UINT64_MAX,
    UINT256_MAX,
)
from tests.support import NOW_SECONDS

ACCOUNT = "0x1a642f0E3c3aF545E7AcBD38b07251B3990914F1"


AGENT = '"bot" via uid 1'


def test_document_shape(request_json: dict[str, Any], now: int, session_key: str) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=ACCOUNT, agent=AGENT, nonce=9)
    assert typed["types"] == TYPES
    assert typed["primaryType"] == PRIMARY_TYPE
    message = typed["message"]
    summary = message["summary"]
    assert summary == summarize(message, 8453) == req.summary()
    assert summary == (
        "10 USDC/day + 0.5 ETH total on Base; to anyone; may call 2 contracts; "
        "until 2026-06-04 20:26:40 UTC"
    )
    # The summary is the domain's name (a Trezor shows it unopened, a Ledger first) and the
    # message's first field.
    assert typed["domain"] == {"name": summary, "version": DOMAIN_VERSION, "chainId": 8453}
    assert list(message) == [field["name"] for field in TYPES[PRIMARY_TYPE]]
    assert next(iter(message)) == "summary"
    assert message["account"] == ACCOUNT
    assert message["sessionKey"] == session_key
    assert message["agent"] == AGENT
    assert message["allowances"][0] == {
        "token": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "symbol": "USDC",
        "decimals": 6,
        "amount": 10_000_000,
        "period": 86400,
        "maxPerPayment": 0,
    }
    assert message["payees"] == []
    assert (message["validAfter"], message["validUntil"], message["nonce"]) == (
        now,
        now + 7 * 86400,
        9,
    )
    # The schema constant is copied, not shared: a caller editing the document cannot change it.
    typed["types"]["Allowance"].append({"name": "x", "type": "bool"})
    assert len(TYPES["Allowance"]) == 6


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"account": ACCOUNT.lower()}, "account"),
        ({"agent": "x" * (MAX_STRING + 1)}, "agent"),
        ({"agent": "tab\there"}, "agent"),
        ({"agent": "bot (uid 0)"}, "agent"),
        ({"nonce": -1}, "nonce"),
    ],
)
def test_build_rejects_bad_daemon_values(
    request_json: dict[str, Any], now: int, kwargs: dict[str, Any], field: str
) -> None:
    req = parse_grant_request(request_json, now=now)
    arguments: dict[str, Any] = {"account": ACCOUNT, "agent": AGENT, "nonce": 1} | kwargs
    with pytest.raises(ValidationError) as caught:
        build_grant_typed_data(req, **arguments)
    assert caught.value.field == field


def test_digest_is_what_eth_account_signs(
    request_json: dict[str, Any], now: int, master: LocalAccount
) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=master.address, agent=AGENT, nonce=1)
    signed = Account.sign_typed_data(master.key, full_message=typed)
    digest = grant_digest(typed)
    assert len(digest) == 32
    assert digest == bytes(signed.message_hash)
    assert Account.recover_message(
        encode_typed_data(full_message=typed), signature=signed.signature
    ) == (master.address)


def test_signed_grant_document(
    request_json: dict[str, Any], now: int, master: LocalAccount
) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=master.address, agent=AGENT, nonce=1)
    signature = bytes(Account.sign_typed_data(master.key, full_message=typed).signature)
    document = signed_grant(typed, signature, master.address)
    assert set(document) == {"id", "typedData", "signature", "signer"}
    assert document["id"] == "0x" + grant_digest(typed).hex()
    assert re.fullmatch(r"0x[0-9a-f]{64}", document["id"])
    assert document["signature"] == "0x" + signature.hex()
    assert document["signer"] == master.address
    # JSON keeps uint256 values as exact integers.
    assert json.loads(json.dumps(document))["typedData"] == typed


def test_signed_grant_accepts_v_0_1_and_writes_27_28(
    request_json: dict[str, Any], now: int, master: LocalAccount
) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=master.address, agent=AGENT, nonce=1)
    signature = bytes(Account.sign_typed_data(master.key, full_message=typed).signature)
    zero_based = signature[:64] + bytes([signature[64] - 27])
    assert signed_grant(typed, zero_based, master.address)["signature"] == "0x" + signature.hex()


def test_signed_grant_refuses_a_signature_by_another_key(
    request_json: dict[str, Any], now: int, master: LocalAccount, other: LocalAccount
) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=master.address, agent=AGENT, nonce=1)
    signature = bytes(Account.sign_typed_data(other.key, full_message=typed).signature)
    with pytest.raises(ValidationError) as caught:
        signed_grant(typed, signature, master.address)
    assert caught.value.field == "signature"
    assert other.address in caught.value.message


@pytest.mark.parametrize("signature", [b"", b"\x01" * 64, b"\x01" * 64 + b"\x05", b"\x01" * 66])
def test_signed_grant_refuses_malformed_signatures(
    request_json: dict[str, Any], now: int, master: LocalAccount, signature: bytes
) -> None:
    req = parse_grant_request(request_json, now=now)
    typed = build_grant_typed_data(req, account=master.address, agent=AGENT, nonce=1)
    with pytest.raises(ValidationError) as caught:
        signed_grant(typed, signature, master.address)
    assert caught.value.field == "signature"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("weather-bot", 1000, 4242, "/usr/bin/python3"),
            '"weather-bot" via uid 1000 pid 4242 exe /usr/bin/python3',
        ),
        (("weather-bot", 1000, None, None), '"weather-bot" via uid 1000'),
        (("weather-bot", None, None, None), '"weather-bot"'),
        (("weather-bot", None, None, "/opt/app"), '"weather-bot" via exe /opt/app'),
        (("", 0, 1, "agent"), '"unnamed" via uid 0 pid 1 exe agent'),
        (("caf\u00e9\tbot", 5, 6, "/bin/b\u00e9t x"), '"caf??bot" via uid 5 pid 6 exe /bin/b?t?x'),
        (("bot", -1, 2**40, "/bin/x"), '"bot" via exe /bin/x'),
        (
            ("a" * 48, 4294967295, 4194304, "/x/" + "y" * 200),
            '"' + "a" * 48 + '" via uid 4294967295 pid 4194304 exe ..' + "y" * 11,
        ),
        (("a" * 60, None, None, None), '"' + "a" * MAX_LABEL + '"'),
    ],
)
def test_agent_description(
    args: tuple[str, int | None, int | None, str | None], expected: str
) -> None:
    described = agent_description(*args)
    assert described == expected
    assert len(described) <= MAX_STRING
    assert AGENT_PATTERN.fullmatch(described)


def test_a_label_cannot_impersonate_the_daemons_part() -> None:
    # Reproduced: this label rendered exactly like the part the daemon fills in.
    label = "system-updater (uid 0, pid 1, /sbin/init)"
    described = agent_description(label, 1000, 4242, "/usr/bin/python3")
    assert described == (
        '"system-updater??uid?0??pid?1???sbin?init?" via uid 1000 pid 4242 exe /usr/bin/python3'
    )
    assert described.count("uid ") == 1 and "(uid 0" not in described


def test_an_executable_name_cannot_impersonate_the_daemons_part() -> None:
    # Reproduced: an executable named like this closed the daemon's part and opened a new one.
    described = agent_description("bot", 1000, 4242, "/tmp/systemd) (uid 0, pid 1, verified")
    assert described == '"bot" via uid 1000 pid 4242 exe /tmp/systemd???uid?0??pid?1??verified'
    assert described.count(" uid ") == 1 and described.count(" pid ") == 1


@settings(max_examples=300)
@given(
    st.text(max_size=200),
    st.none() | st.integers(-(2**70), 2**70),
    st.none() | st.integers(-(2**70), 2**70),
    st.none() | st.text(max_size=300),
)
def test_agent_description_is_always_a_valid_grant_agent(
    label: str, uid: int | None, pid: int | None, exe: str | None
) -> None:
    described = agent_description(label, uid, pid, exe)
    assert 0 < len(described) <= MAX_STRING
    assert described.isascii() and described.isprintable()
    assert AGENT_PATTERN.fullmatch(described)
    # The label is what is between the first two quotes, and the daemon's part follows them.
    assert described.count('"') == 2 and described.startswith('"')
    assert agent_description(label, uid, pid, exe) == described


addresses = (
    st.binary(min_size=20, max_size=20)
    .map(to_checksum_address)
    .filter(lambda address: address != ZERO_ADDRESS)
)
labels = st.text(alphabet="abcXYZ019._-", min_size=1, max_size=MAX_LABEL)


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    allowances = draw(
        st.lists(
            st.integers(1, UINT256_MAX).flatmap(
                lambda amount: st.fixed_dictionaries(
                    {
                        "token": st.just(ZERO_ADDRESS) | addresses,
                        "amount": st.just(amount),
                        "period": st.integers(0, UINT64_MAX),
                        "maxPerPayment": st.integers(0, amount),
                    }
                )
            ),
            max_size=MAX_ALLOWANCES,
            unique_by=lambda allowance: (allowance["token"], allowance["period"]),
        )
    )
    payees = draw(st.lists(addresses, max_size=MAX_PAYEES, unique=True)) if allowances else []
    return {
        "chainId": draw(st.integers(1, MAX_CHAIN_ID) | st.sampled_from([1, 8453, 84532])),
        "sessionKey": draw(addresses),
        "agent": draw(labels),
        "allowances": allowances,
        "payees": payees,
        "targets": draw(st.lists(addresses, max_size=MAX_TARGETS, unique=True)),
        "validFor": draw(st.integers(1, MAX_WINDOW)),
        "nonce": draw(st.integers(0, UINT256_MAX)),
    }


def _field_types(types: dict[str, list[dict[str, str]]]) -> list[tuple[str, str]]:
    return [(field["name"], field["type"]) for fields in types.values() for field in fields]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


@settings(max_examples=150, deadline=None)
@given(valid_requests(), labels, st.integers(0, 2**32), st.text(max_size=80))
def test_typed_data_fits_the_screens(
    request: dict[str, Any], label: str, uid: int, exe: str
) -> None:
    try:
        req = parse_grant_request(request, now=NOW_SECONDS)
    except ValidationError as exc:
        # The only valid-looking request refused is one whose summary cannot be shown whole.
        assert exc.field in ("allowances", "payees", "targets")
        assert "more than the 99 a screen shows whole" in exc.message
        return
    agent = agent_description(label, uid, 4242, exe)
    typed = build_grant_typed_data(req, account=ACCOUNT, agent=agent, nonce=request["nonce"])
    for name, type_name in _field_types(typed["types"]):
        assert len(name) <= MAX_FIELD_NAME
        assert not type_name.startswith("bytes")
        assert type_name.count("[]") <= 1
    assert all(len(name) <= MAX_FIELD_NAME for name in typed["types"])
    for text in _strings(typed["domain"]) + _strings(typed["message"]):
        assert len(text) <= MAX_STRING
        assert text.isascii() and text.isprintable()
    # And the document is one eth-account can hash.
    assert len(grant_digest(typed)) == 32
