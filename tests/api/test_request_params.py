"""A request's params, in process: the daemon's [[tokens]] table decides whether a grant's
summary fits the screen (a request that fits once its token is named is not refused for the
length its raw address would take), and a request refused for its params is audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from signerd.errors import ValidationError
from signerd.grants.tokens import TokenInfo, token_table
from tests.api.onchain import in_process
from tests.payments.factories import new_key

TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # the test chain's USDC, unnamed built in
PAYEE = "0x4a97EA1f1d1bdbaf4e8b0874F07f6689C77369E0"


def request(session: str) -> dict[str, object]:
    return {
        "sessionKey": session,
        "agent": "shop-bot",
        "chainId": 31337,
        "allowances": [
            {"token": TOKEN, "amount": "30000", "period": 86400, "maxPerPayment": "10000"}
        ],
        "payees": [PAYEE],
        "targets": [],
        "validFor": 3600,
    }


def test_a_request_that_fits_once_its_token_is_named_is_granted(tmp_path: Path) -> None:
    tokens = token_table([(31337, TOKEN, TokenInfo("USDC", 6))], "tokens")
    with in_process(tmp_path, tokens=tokens) as env:
        session = new_key().public_key.to_checksum_address()
        reply = env.call("signerd_requestGrant", request(session))
    summary = reply["grant"]["typedData"]["message"]["summary"]
    assert summary.startswith("0.03 USDC/day (max 0.01 each) on chain 31337; to 0x4a97..69E0;")


def test_without_the_name_the_same_request_is_too_long_for_the_screen(tmp_path: Path) -> None:
    with in_process(tmp_path / "unnamed") as env:
        session = new_key().public_key.to_checksum_address()
        with pytest.raises(ValidationError) as caught:
            env.call("signerd_requestGrant", request(session))
        assert env.fake.prompts == 0
    assert "the device summary would be" in caught.value.message


def test_a_request_refused_for_its_params_is_audited(tmp_path: Path) -> None:
    """README: every request leaves one outcome, also one whose params are refused before
    its flow starts (coalesced per peer and kind, as every refusal)."""
    with in_process(tmp_path) as env:
        session = new_key().public_key.to_checksum_address()
        with pytest.raises(ValidationError):
            env.call("signerd_requestGrant", {**request(session), "chainId": 0})
        with pytest.raises(ValidationError):
            env.call("signerd_signPayment", {"grantId": "0x12", "typedData": {}})
        entries = env.daemon.store.audit_entries()
    assert [(e.event, e.peer["uid"] if e.peer else None) for e in entries] == [("invalid", 1000)]
    assert "chainId" in entries[0].detail["reason"]
