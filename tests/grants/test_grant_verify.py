"""Offline verification: a real signed grant verifies; any change to it fails with the right reason."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st

from signerd.grants import (
    Verification,
    agent_description,
    build_grant_typed_data,
    parse_grant_request,
    signed_grant,
    summarize,
    verify_grant,
)
from tests.support import NOW_SECONDS, SEPOLIA_USDC

WEEK = 7 * 86400
STRANGER = "0x3333333333333333333333333333333333333333"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

Tamper = Callable[[dict[str, Any]], None]


def test_signed_grant_verifies(grant: dict[str, Any], master: LocalAccount) -> None:
    result = verify_grant(grant, now=NOW_SECONDS + 10)
    assert result == Verification(True, None, None, master.address, grant["id"])
    assert verify_grant(grant, expected_signer=master.address, now=NOW_SECONDS + 10).valid
    # Any hex case for the expected signer.
    assert verify_grant(grant, expected_signer=master.address.lower(), now=NOW_SECONDS + 10).valid


def test_window_bounds(grant: dict[str, Any]) -> None:
    assert verify_grant(grant, now=NOW_SECONDS - 1).reason == "not_yet_valid"
    assert verify_grant(grant, now=NOW_SECONDS).valid
    assert verify_grant(grant, now=NOW_SECONDS + WEEK - 1).valid
    expired = verify_grant(grant, now=NOW_SECONDS + WEEK)
    assert (expired.valid, expired.reason) == (False, "expired")
    assert expired.grant_id == grant["id"]


def test_now_defaults_to_the_clock(grant: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW_SECONDS + 0.5)
    assert verify_grant(grant).valid
    monkeypatch.setattr(time, "time", lambda: NOW_SECONDS + WEEK + 0.5)
    assert verify_grant(grant).reason == "expired"


def test_wrong_expected_signer(
    grant: dict[str, Any], master: LocalAccount, other: LocalAccount
) -> None:
    result = verify_grant(grant, expected_signer=other.address, now=NOW_SECONDS + 10)
    assert (result.valid, result.reason, result.signer) == (False, "wrong_signer", master.address)


def test_expected_signer_must_be_an_address(grant: dict[str, Any]) -> None:
    assert verify_grant(grant, expected_signer="alice", now=NOW_SECONDS + 10).reason == "malformed"


def test_grant_for_a_smart_account(request_json: dict[str, Any], master: LocalAccount) -> None:
    """account may be a smart account the master controls: the master signs, account differs."""
    req = parse_grant_request(request_json, now=NOW_SECONDS)
    typed = build_grant_typed_data(req, account=STRANGER, agent='"bot"', nonce=1)
    signature = bytes(Account.sign_typed_data(master.key, full_message=typed).signature)
    document = json.loads(json.dumps(signed_grant(typed, signature, master.address)))
    assert verify_grant(document, expected_signer=master.address, now=NOW_SECONDS + 1).valid
    assert verify_grant(document, now=NOW_SECONDS + 1).reason == "wrong_signer"


def test_integers_written_as_strings_verify_to_the_same_id(grant: dict[str, Any]) -> None:
    message = grant["typedData"]["message"]
    message["nonce"] = str(message["nonce"])
    message["allowances"][1]["amount"] = str(message["allowances"][1]["amount"])
    grant["typedData"]["domain"]["chainId"] = "8453"
    result = verify_grant(grant, now=NOW_SECONDS + 10)
    assert result.valid, result.detail
    assert result.grant_id == grant["id"]


def _message(key: str, value: Any) -> Tamper:
    def tamper(grant: dict[str, Any]) -> None:
        grant["typedData"]["message"][key] = value

    return tamper


def _allowance(index: int, key: str, value: Any) -> Tamper:
    def tamper(grant: dict[str, Any]) -> None:
        grant["typedData"]["message"]["allowances"][index][key] = value

    return tamper


def _resummarize(edit: Tamper) -> Tamper:
    """An attacker who changes a field and also rewrites the summary (both places) to match."""

    def tamper(grant: dict[str, Any]) -> None:
        edit(grant)
        typed = grant["typedData"]
        summary = summarize(typed["message"], typed["domain"]["chainId"])
        typed["message"]["summary"] = typed["domain"]["name"] = summary

    return tamper


def _without_targets(edit: Tamper) -> Tamper:
    """``edit`` and drop the targets: the longer summary it makes then still fits a screen."""

    def tamper(grant: dict[str, Any]) -> None:
        edit(grant)
        grant["typedData"]["message"]["targets"] = []

    return tamper


def _signature_bytes(edit: Callable[[bytearray], None]) -> Tamper:
    def tamper(grant: dict[str, Any]) -> None:
        raw = bytearray(bytes.fromhex(grant["signature"][2:]))
        edit(raw)
        grant["signature"] = "0x" + raw.hex()

    return tamper


def _flip(index: int) -> Callable[[bytearray], None]:
    def edit(raw: bytearray) -> None:
        raw[index] ^= 0x01

    return edit


def _high_s(raw: bytearray) -> None:
    """The same signature in its other (malleable) form: s' = n - s, v flipped."""
    s = int.from_bytes(raw[32:64], "big")
    raw[32:64] = (SECP256K1_N - s).to_bytes(32, "big")
    raw[64] = 55 - raw[64]  # 27 <-> 28


TAMPERS: list[tuple[str, Tamper, str]] = [
    ("message.account", _message("account", STRANGER), "bad_signature"),
    ("message.sessionKey", _message("sessionKey", STRANGER), "bad_signature"),
    ("message.agent", _message("agent", '"evil-bot" via uid 0'), "bad_signature"),
    (
        "message.agent impersonating the daemon",
        _message("agent", "evil-bot (uid 0, pid 1, /sbin/init)"),
        "malformed",
    ),
    ("message.summary", _message("summary", "1 USDC/day on Base"), "summary_mismatch"),
    (
        "domain.name",
        lambda grant: grant["typedData"]["domain"].update(name="1 USDC/day on Base"),
        "summary_mismatch",
    ),
    ("message.allowances.amount", _allowance(0, "amount", 20_000_000), "summary_mismatch"),
    ("message.allowances.period", _allowance(0, "period", 3600), "summary_mismatch"),
    # A named token's summary shows its name, not its address: the signature catches this.
    ("message.allowances.token", _allowance(0, "token", SEPOLIA_USDC), "bad_signature"),
    ("message.allowances.symbol", _allowance(0, "symbol", "USDT"), "summary_mismatch"),
    ("message.allowances.decimals", _allowance(0, "decimals", 7), "summary_mismatch"),
    (
        "message.allowances.maxPerPayment",
        _allowance(0, "maxPerPayment", 1_000_000),
        "summary_mismatch",
    ),
    (
        "symbol with matching summary",
        _resummarize(_allowance(0, "symbol", "USDT")),
        "bad_signature",
    ),
    (
        "message.payees added",
        lambda grant: grant["typedData"]["message"]["payees"].append(STRANGER),
        "summary_mismatch",
    ),
    (
        "payees with matching summary",
        _resummarize(_without_targets(_message("payees", [STRANGER]))),
        "bad_signature",
    ),
    (
        "message.allowances removed",
        lambda grant: grant["typedData"]["message"]["allowances"].pop(),
        "summary_mismatch",
    ),
    (
        "message.targets replaced",
        _message("targets", [STRANGER, "0x2222222222222222222222222222222222222222"]),
        "bad_signature",
    ),
    (
        "message.targets added",
        lambda grant: grant["typedData"]["message"]["targets"].append(STRANGER),
        "summary_mismatch",
    ),
    ("message.validAfter", _message("validAfter", NOW_SECONDS - 1), "bad_signature"),
    ("message.validUntil", _message("validUntil", NOW_SECONDS + WEEK + 60), "summary_mismatch"),
    ("message.nonce", _message("nonce", 8), "bad_signature"),
    (
        "amount with matching summary",
        _resummarize(_allowance(0, "amount", 20_000_000)),
        "bad_signature",
    ),
    (
        "validUntil with matching summary",
        _resummarize(_message("validUntil", NOW_SECONDS + WEEK + 60)),
        "bad_signature",
    ),
    (
        "domain.chainId",
        lambda grant: grant["typedData"]["domain"].update(chainId=1),
        "summary_mismatch",
    ),
    (
        "domain.chainId with matching summary",
        _resummarize(
            _without_targets(lambda grant: grant["typedData"]["domain"].update(chainId=84532))
        ),
        "bad_signature",
    ),
    ("domain.name empty", lambda grant: grant["typedData"]["domain"].update(name=""), "malformed"),
    ("domain.version", lambda grant: grant["typedData"]["domain"].update(version="3"), "malformed"),
    (
        "domain.version 1 on version 2 types",
        lambda grant: grant["typedData"]["domain"].update(version="1"),
        "malformed",
    ),
    (
        "domain.chainId beyond EIP-2294",
        lambda grant: grant["typedData"]["domain"].update(chainId=2**63),
        "malformed",
    ),
    (
        "domain extra field",
        lambda grant: grant["typedData"]["domain"].update(verifyingContract=STRANGER),
        "malformed",
    ),
    (
        "types",
        lambda grant: grant["typedData"]["types"]["SessionGrant"][-1].update(type="uint128"),
        "malformed",
    ),
    ("primaryType", lambda grant: grant["typedData"].update(primaryType="Allowance"), "malformed"),
    ("message extra field", _message("memo", "hi"), "malformed"),
    (
        "message missing field",
        lambda grant: grant["typedData"]["message"].pop("nonce"),
        "malformed",
    ),
    ("id", lambda grant: grant.update(id="0x" + "00" * 32), "malformed"),
    ("id not a string", lambda grant: grant.update(id=5), "malformed"),
    ("signature r", _signature_bytes(_flip(5)), "bad_signature"),
    ("signature s", _signature_bytes(_flip(40)), "bad_signature"),
    (
        "signature v",
        _signature_bytes(lambda raw: raw.__setitem__(64, 55 - raw[64])),
        "bad_signature",
    ),
    (
        "signature v out of range",
        _signature_bytes(lambda raw: raw.__setitem__(64, 29)),
        "bad_signature",
    ),
    ("signature high s", _signature_bytes(_high_s), "bad_signature"),
    (
        "signature truncated",
        lambda grant: grant.update(signature=grant["signature"][:-2]),
        "malformed",
    ),
    ("signature not hex", lambda grant: grant.update(signature="0x" + "zz" * 65), "malformed"),
    ("signer", lambda grant: grant.update(signer=STRANGER), "bad_signature"),
    ("signer lowercase", lambda grant: grant.update(signer=grant["signer"].lower()), "malformed"),
    ("document extra field", lambda grant: grant.update(note="x"), "malformed"),
    ("message amount zero", _allowance(0, "amount", 0), "malformed"),
    ("message duplicate target", _message("targets", [STRANGER, STRANGER]), "malformed"),
    ("message window over a year", _message("validUntil", NOW_SECONDS + 367 * 86400), "malformed"),
    ("message agent too long", _message("agent", '"a" via exe /' + "a" * 90), "malformed"),
    ("message unnamed token with decimals", _allowance(0, "symbol", ""), "malformed"),
    ("message native coin decimals", _allowance(1, "decimals", 6), "malformed"),
    ("message symbol with a space", _allowance(0, "symbol", "US DC"), "malformed"),
    ("message maxPerPayment over amount", _allowance(0, "maxPerPayment", 10**8), "malformed"),
    ("message payee zero", _message("payees", ["0x" + "0" * 40]), "malformed"),
]


@pytest.mark.parametrize(
    ("tamper", "reason"), [case[1:] for case in TAMPERS], ids=[case[0] for case in TAMPERS]
)
def test_tampering_fails_with_the_right_reason(
    grant: dict[str, Any], tamper: Tamper, reason: str
) -> None:
    assert verify_grant(grant, now=NOW_SECONDS + 10).valid
    tamper(grant)
    result = verify_grant(grant, now=NOW_SECONDS + 10)
    assert (result.valid, result.reason) == (False, reason), result.detail
    assert result.detail


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_garbage_never_raises(value: Any) -> None:
    result = verify_grant(value, now=NOW_SECONDS)
    assert result.valid is False
    assert result.reason == "malformed"


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@pytest.fixture(scope="module")
def pristine(master: LocalAccount, session_key: str) -> dict[str, Any]:
    req = parse_grant_request(
        {
            "chainId": 8453,
            "sessionKey": session_key,
            "agent": "bot",
            "allowances": [{"token": SEPOLIA_USDC, "amount": 5, "period": 60}],
            "targets": [STRANGER],
            "validAfter": NOW_SECONDS,
            "validFor": WEEK,
        },
        now=NOW_SECONDS,
    )
    agent = agent_description(req.label, 1, 2, "bot")
    typed = build_grant_typed_data(req, account=master.address, agent=agent, nonce=3)
    signature = bytes(Account.sign_typed_data(master.key, full_message=typed).signature)
    loaded: dict[str, Any] = json.loads(json.dumps(signed_grant(typed, signature, master.address)))
    return loaded


@settings(max_examples=300)
@given(st.data(), json_values)
def test_any_replaced_value_is_rejected_without_raising(
    pristine: dict[str, Any], data: st.DataObject, replacement: Any
) -> None:
    grant = copy.deepcopy(pristine)
    path = data.draw(st.sampled_from(_paths(grant)[1:]))
    node: Any = grant
    for key in path[:-1]:
        node = node[key]
    original = node[path[-1]]
    node[path[-1]] = replacement
    result = verify_grant(grant, now=NOW_SECONDS + 10)
    # Only the same value (an integer may be written as a decimal string) leaves it valid.
    if result.valid:
        assert str(replacement) == str(original)
