"""Nothing is refused after the person approved it: whatever ``parse_grant_request`` accepts
builds into typed data that the store takes and that verifies.

Requests are fuzzed around every bound the store or a device has (chain id, timestamps,
uint256 values, label and executable characters, summary length), so a range the request
checks forgot would show up as a grant the daemon builds, the device signs, and the store then
throws away.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from eth_keys.datatypes import PrivateKey
from eth_utils.address import to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from signerd.errors import ValidationError
from signerd.grants import (
    MAX_CHAIN_ID,
    ZERO_ADDRESS,
    agent_description,
    build_grant_typed_data,
    grant_digest,
    parse_grant_request,
    signed_grant,
    verify_grant,
)
from signerd.grants.schema import MAX_TIMESTAMP, MAX_WINDOW, UINT64_MAX, UINT256_MAX
from signerd.store import Store, StoredGrant

NOW = 1_780_000_000
MASTER = PrivateKey(b"\x01" * 32)


def within(low: int, high: int, *points: int) -> st.SearchStrategy[int | str]:
    """Integers from ``low`` to ``high``, often exactly a bound or one of ``points``, written
    as JSON integers or as decimal strings."""
    number = st.sampled_from(sorted({low, high, *points})) | st.integers(low, high)
    return number | number.map(str)


def mostly(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """A value from ``good`` nine times in ten, so that many requests pass every check."""
    # Not draw(st.booleans()) or a small range: Hypothesis favours bounds, which would make
    # the bad branch as common as the good one.
    return draw(good if draw(st.integers(0, 2**16)) % 10 != 3 else bad)


# The zero address is refused everywhere but as a token (test_grant_request covers that).
addresses = st.integers(1, 2**160 - 1).map(lambda n: to_checksum_address(n.to_bytes(20, "big")))
tokens = (
    st.just(ZERO_ADDRESS)
    | st.sampled_from(
        ["0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"]
    )
    | addresses
)
labels = st.from_regex(r"[A-Za-z0-9._-]{1,48}", fullmatch=True)
bad_labels = st.text(alphabet="ab9._- /()\"'\x00\u00e9", max_size=50)


@st.composite
def allowances(draw: st.DrawFn) -> dict[str, Any]:
    amount = int(mostly(draw, within(1, UINT256_MAX, 10**6, 10**18), st.sampled_from([0, 2**256])))
    allowance: dict[str, Any] = {
        "token": draw(tokens),
        "amount": amount,
        "period": draw(within(0, UINT64_MAX, 60, 86400)),
    }
    if draw(st.booleans()):
        allowance["maxPerPayment"] = mostly(draw, within(0, amount), st.just(amount + 1))
    return allowance


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    after = mostly(
        draw,
        st.integers(NOW, NOW + 60 * 86400),
        st.sampled_from([MAX_TIMESTAMP - 1, MAX_TIMESTAMP, MAX_TIMESTAMP + 1, UINT64_MAX]),
    )
    window = mostly(draw, within(1, MAX_WINDOW, 3600), st.sampled_from([0, MAX_WINDOW + 1]))
    request: dict[str, Any] = {
        "chainId": mostly(
            draw, within(1, MAX_CHAIN_ID, 8453), st.sampled_from([0, MAX_CHAIN_ID + 1, 2**63])
        ),
        "sessionKey": draw(addresses),
        "agent": mostly(draw, labels, bad_labels),
        "allowances": mostly(
            draw,
            st.lists(allowances(), max_size=2, unique_by=lambda a: (a["token"], a["period"])),
            st.lists(allowances(), max_size=9),
        ),
        "payees": draw(st.lists(addresses, max_size=2, unique=True)),
        "targets": draw(st.lists(addresses, max_size=3, unique=True)),
        "validAfter": after,
        "nonce": mostly(draw, within(0, UINT256_MAX), st.just(2**256)),
    }
    if not request["allowances"] and draw(st.integers(0, 2**16)) % 10 != 3:
        request["payees"] = []
    if draw(st.booleans()):
        request["validFor"] = window
    else:
        request["validUntil"] = after + int(window)
    return request


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    requests(),
    st.integers(0, 2**32 - 1),
    st.integers(1, 2**22),
    st.text(max_size=120),
)
def test_what_the_request_accepts_the_store_keeps(
    request: dict[str, Any], uid: int, pid: int, exe: str
) -> None:
    try:
        checked = parse_grant_request(request, now=NOW)
    except ValidationError as exc:
        event(f"refused: {exc.field.split('.')[0]}")
        return
    event("accepted")
    agent = agent_description(checked.label, uid, pid, exe)
    nonce = checked.nonce if checked.nonce is not None else 7
    account = MASTER.public_key.to_checksum_address()
    typed = build_grant_typed_data(checked, account=account, agent=agent, nonce=nonce)
    signature = MASTER.sign_msg_hash(grant_digest(typed)).to_bytes()
    document = signed_grant(typed, signature[:64] + bytes([signature[64] + 27]), account)
    assert verify_grant(document, now=checked.valid_after).valid
    stored = StoredGrant.from_document(document, device="fuzz", peer_uid=uid, created_at=NOW)
    with tempfile.TemporaryDirectory() as directory, Store.open(Path(directory)) as store:
        store.add_grant(stored)
        assert store.get_grant(stored.id) is not None
