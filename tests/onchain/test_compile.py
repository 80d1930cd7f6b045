"""Grant -> delegation (signerd.onchain, pure): caveats per allowance shape, the check back,
and the EIP-712 digest against eth-account's own encoding. The contracts' own view of the
same encoding is tests/chain/test_delegation_on_anvil.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from signerd.errors import DelegationMismatch, DelegationUnsupported
from signerd.grants.agent import agent_description
from signerd.grants.request import parse_grant_request
from signerd.grants.typed_data import build_grant_typed_data, keccak, signed_grant
from signerd.onchain.caveats import (
    Enforcers,
    decode_erc20_period,
    decode_multi_token,
    decode_native_period,
    decode_timestamp,
)
from signerd.onchain.compile import compile_delegation, verify_delegation
from signerd.onchain.delegation import (
    ROOT_AUTHORITY,
    Caveat,
    delegation_digest,
    delegation_typed_data,
)
from tests.support import NATIVE, NOW_SECONDS, SESSION, USDC_BASE

MASTER = Account.create()
AGENT = agent_description("bot", 1000, 4242, "/usr/bin/python3")
ENFORCERS = Enforcers(
    *(f"0x{n:040x}" for n in range(0xE1, 0xE7))  # six distinct fake deployments
)
ACCOUNT = "0x" + "ac" * 20
MANAGER = "0x" + "dd" * 20
AFTER, UNTIL = NOW_SECONDS - 60, NOW_SECONDS + 7 * 86400
WETH_BASE = "0x4200000000000000000000000000000000000006"


def grant(*allowances: dict[str, Any]) -> dict[str, Any]:
    request = parse_grant_request(
        {
            "agent": "bot",
            "sessionKey": SESSION,
            "chainId": 8453,
            "allowances": list(allowances),
            "targets": [],
            "validAfter": AFTER,
            "validUntil": UNTIL,
        },
        now=NOW_SECONDS,
    )
    typed = build_grant_typed_data(request, account=MASTER.address, agent=AGENT, nonce=1)
    signature = bytes(Account.sign_typed_data(MASTER.key, full_message=typed).signature)
    return signed_grant(typed, signature, MASTER.address)


def usdc(amount: int = 10_000_000, period: int = 86400) -> dict[str, Any]:
    return {"token": USDC_BASE, "amount": str(amount), "period": period}


def test_one_token_is_a_period_caveat_per_allowance_a_window_and_no_ether() -> None:
    document = grant(usdc(), usdc(50_000_000, 0))
    d = compile_delegation(document, ACCOUNT, ENFORCERS)
    assert (d.delegate, d.delegator.lower(), d.authority) == (SESSION, ACCOUNT, ROOT_AUTHORITY)
    assert d.salt == int(document["id"], 16)
    stamp, daily, total, value = d.caveats
    assert stamp.enforcer == ENFORCERS.timestamp
    assert decode_timestamp(stamp.terms) == (AFTER - 1, UNTIL)
    assert daily.enforcer == total.enforcer == ENFORCERS.erc20_period
    assert vars(decode_erc20_period(daily.terms)) == {
        "token": USDC_BASE,
        "amount": 10_000_000,
        "duration": 86400,
        "start": AFTER,
    }
    # Period 0: one window over the whole validity, as the off-chain ledger counts it.
    assert decode_erc20_period(total.terms).duration == UNTIL - AFTER
    assert value == Caveat(ENFORCERS.value_lte, bytes(32))


def test_native_allows_plain_transfers_up_to_the_smallest_per_payment_maximum() -> None:
    eth = {"token": NATIVE, "amount": "1000000000000000", "period": 0, "maxPerPayment": "1000"}
    d = compile_delegation(grant(eth), ACCOUNT, ENFORCERS)
    _, period, calldata, value = d.caveats
    assert period.enforcer == ENFORCERS.native_period
    assert decode_native_period(period.terms).amount == 10**15
    assert calldata == Caveat(ENFORCERS.exact_calldata, b"")
    assert value == Caveat(ENFORCERS.value_lte, (1000).to_bytes(32, "big"))


def test_several_tokens_share_one_multi_token_caveat() -> None:
    weth = {"token": WETH_BASE, "amount": "1000", "period": 3600}
    d = compile_delegation(grant(usdc(), weth), ACCOUNT, ENFORCERS)
    _, multi = d.caveats
    assert multi.enforcer == ENFORCERS.multi_token_period
    assert [(x.token, x.amount, x.duration) for x in decode_multi_token(multi.terms)] == [
        (USDC_BASE, 10_000_000, 86400),
        (WETH_BASE, 1000, 3600),
    ]


def test_a_token_capped_twice_beside_another_is_refused_not_weakened() -> None:
    eth = {"token": NATIVE, "amount": "1000000000000000", "period": 0}
    with pytest.raises(DelegationUnsupported) as caught:
        compile_delegation(grant(usdc(), usdc(1_000_000, 0), eth), ACCOUNT, ENFORCERS)
    assert caught.value.data == {"field": "allowances"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: replace(d, salt=d.salt + 1), "salt"),
        (lambda d: replace(d, delegate=ACCOUNT), "delegate"),
        (lambda d: replace(d, authority=b"\x00" * 32), "authority"),
        (lambda d: replace(d, caveats=d.caveats[:-1]), "caveats"),
        (
            lambda d: replace(
                d,
                caveats=(
                    d.caveats[0],
                    replace(d.caveats[1], terms=d.caveats[1].terms[:-1] + b"\xff"),
                    *d.caveats[2:],
                ),
            ),
            "caveats.1",
        ),
        (
            lambda d: replace(d, caveats=(replace(d.caveats[0], enforcer=MANAGER), *d.caveats[1:])),
            "caveats.0",
        ),
    ],
)
def test_verify_names_the_first_difference(change: Any, field: str) -> None:
    document = grant(usdc())
    d = compile_delegation(document, ACCOUNT, ENFORCERS)
    verify_delegation(document, d, ENFORCERS)
    with pytest.raises(DelegationMismatch) as caught:
        verify_delegation(document, change(d), ENFORCERS)
    assert caught.value.data == {"field": field}


def test_the_digest_is_eip712_as_eth_account_computes_it() -> None:
    d = compile_delegation(grant(usdc()), ACCOUNT, ENFORCERS)
    typed = delegation_typed_data(d, 8453, MANAGER)
    signable = encode_typed_data(full_message=typed)
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    assert delegation_digest(d, 8453, MANAGER) == expected
