"""The command line's grant shorthand and request files, turned into what agents send."""

from __future__ import annotations

import json

import pytest

from signerd.errors import ErrorCode, ValidationError
from signerd.grants import ZERO_ADDRESS, AllowanceSpec, parse_grant_request
from signerd.grants.cli_input import (
    load_json,
    load_request,
    load_signed_grant,
    parse_allowance,
    parse_duration,
    request_params,
)
from tests.support import SESSION, USDC_BASE

PAYEE = "0x3333333333333333333333333333333333333333"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3600", 3600), ("45s", 45), ("30m", 1800), ("2h", 7200), ("1d", 86400), (" 2w ", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "-5", "1.5h", "d", "1 d", "1dd"])
def test_bad_duration_names_the_field_and_the_format(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_duration(text)
    assert caught.value.code == ErrorCode.INVALID_PARAMS
    assert caught.value.field == "validFor"
    assert caught.value.message == f"{text!r}: use seconds or a number with s/m/h/d/w"


def test_allowance_with_and_without_period() -> None:
    assert parse_allowance(f"{USDC_BASE}:10000000:1d") == {
        "token": USDC_BASE,
        "amount": "10000000",
        "period": 86400,
    }
    assert parse_allowance(f"{USDC_BASE}:5") == {"token": USDC_BASE, "amount": "5", "period": 0}


def test_allowance_with_a_per_payment_maximum() -> None:
    assert parse_allowance(f"{USDC_BASE}:10000000:1d:500000") == {
        "token": USDC_BASE,
        "amount": "10000000",
        "period": 86400,
        "maxPerPayment": "500000",
    }


@pytest.mark.parametrize("alias", ["0", "0x0", "native", "eth"])
def test_native_coin_aliases_become_the_zero_address(alias: str) -> None:
    assert parse_allowance(f"{alias}:1:0")["token"] == ZERO_ADDRESS


@pytest.mark.parametrize("text", ["usdc", "a:b:1d:d:e", ""])
def test_bad_allowance_shape(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_allowance(text)
    assert caught.value.field == "allowances"
    assert caught.value.message == f"{text!r}: use TOKEN:AMOUNT[:PERIOD[:MAX]]"


def test_bad_allowance_period_names_the_period() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_allowance("native:1:1x")
    assert caught.value.field == "allowances.period"
    assert "'1x': use seconds" in caught.value.message


def test_request_params_are_a_request_the_daemon_accepts() -> None:
    params = request_params(
        agent="shell-agent",
        chain_id=8453,
        allowances=[
            parse_allowance(f"{USDC_BASE}:10000000:1d:500000"),
            parse_allowance("eth:7" + "0" * 15),
        ],
        targets=[],
        valid_for=parse_duration("2h"),
        payees=[PAYEE],
        session_key=SESSION,
    )
    assert "generate" not in params
    request = parse_grant_request(params, now=1_000)
    assert request.label == "shell-agent" and request.chain_id == 8453
    assert request.session_key == SESSION
    assert request.allowances == (
        AllowanceSpec(USDC_BASE, 10000000, 86400, 500000, "USDC", 6),
        AllowanceSpec(ZERO_ADDRESS, 7 * 10**15, 0, 0, "ETH", 18),
    )
    assert request.payees == (PAYEE,)
    assert request.summary() == (
        "10 USDC/day (max 0.5 each) + 0.007 ETH total on Base; to 0x3333..3333; "
        "until 1970-01-01 02:16 UTC"
    )
    assert (request.valid_after, request.valid_until) == (960, 8_160)  # from the whole minute


def test_request_params_ask_for_a_generated_key() -> None:
    params = request_params(
        agent="a", chain_id=1, allowances=[], targets=[], valid_for=60, generate=True
    )
    assert params["generate"] is True and "sessionKey" not in params
    assert "payees" not in params  # none given: the request's default, anyone


def test_documents_that_are_not_json_name_their_source() -> None:
    with pytest.raises(ValidationError) as caught:
        load_json("{nope", "r.json")
    assert caught.value.field == "r.json"
    assert caught.value.message.startswith("not JSON: ")
    assert str(caught.value).startswith("r.json: not JSON: ")


def test_a_request_must_be_an_object() -> None:
    assert load_request('{"agent": "a"}', "<stdin>") == {"agent": "a"}
    with pytest.raises(ValidationError) as caught:
        load_request("[1]", "<stdin>")
    assert str(caught.value) == "<stdin>: the request must be a JSON object"


def test_signed_grant_is_taken_from_a_request_grant_reply() -> None:
    grant = {"id": "0x01", "typedData": {}, "signature": "0x"}
    assert load_signed_grant(json.dumps(grant), "g.json") == grant
    reply = {"grant": grant, "sessionPrivateKey": "0x02"}
    assert load_signed_grant(json.dumps(reply), "g.json") == grant
    assert load_signed_grant("[1]", "g.json") == [1]  # left for verify_grant to reject
