"""``signerd_requestDelegation`` / ``signerd_getDelegation`` in process: the device's second
approval, what the person is told, and every refusal before the device is asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from emulator.keys import MASTER_ADDRESS
from signerd.errors import (
    ChainNotConfigured,
    DelegationExists,
    DelegationNotFound,
    GrantRevoked,
    HeldKeyNotFound,
    ValidationError,
)
from signerd.flows.delegation import person_account
from signerd.onchain.delegation import Delegation, delegation_typed_data
from tests.api.onchain import BASE, CHAIN_ID, InProcess, in_process
from tests.payments.factories import new_key, payment_grant_params

USDC_ETHEREUM = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


def new_grant(env: InProcess, chain_id: int = CHAIN_ID) -> str:
    session = new_key().public_key.to_checksum_address()
    params = payment_grant_params(session, chainId=chain_id)
    if chain_id != CHAIN_ID:  # a token the daemon names on that chain too
        params["allowances"] = [{"token": USDC_ETHEREUM, "amount": "100", "period": 86400}]
    reply = env.call("signerd_requestGrant", params)
    return str(reply["grant"]["id"])


def test_the_delegation_is_a_second_approval(tmp_path: Path) -> None:
    with in_process(tmp_path) as env:
        grant_id = new_grant(env)
        assert env.fake.prompts == 1
        reply = env.call("signerd_requestDelegation", {"grantId": grant_id})
        assert env.fake.prompts == 2
        assert env.call("signerd_getDelegation", {"grantId": grant_id}) == reply
        with pytest.raises(DelegationExists):
            env.call("signerd_requestDelegation", {"grantId": grant_id})
        assert env.fake.prompts == 2
    delegation = Delegation.from_json(reply["delegation"])
    assert reply["delegator"] == person_account(BASE, MASTER_ADDRESS) == delegation.delegator
    typed = delegation_typed_data(delegation, CHAIN_ID, BASE.delegation_manager)
    signable = encode_typed_data(full_message=typed)
    assert Account.recover_message(signable, signature=delegation.signature) == MASTER_ADDRESS
    told = "\n".join(env.progress)
    assert "ERC20PeriodTransfer: 0.0001 USDC/day from" in told
    assert "The device shows each caveat's terms as hex" in told
    assert f"({'your account, owned by ' + MASTER_ADDRESS})" in told


def test_a_delegator_the_agent_names_is_not_called_your_account(tmp_path: Path) -> None:
    named = "0x5a5A5a5a5A5a5a5a5a5A5a5A5A5a5a5A5A5A5A5A"
    with in_process(tmp_path) as env:
        grant_id = new_grant(env)
        env.progress.clear()
        reply = env.call("signerd_requestDelegation", {"grantId": grant_id, "delegator": named})
        assert reply["delegator"] == named
    told = "\n".join(env.progress)
    own = person_account(BASE, MASTER_ADDRESS)
    assert f"an account the agent named, NOT your account {own}" in told
    assert "your account, owned by" not in told


def test_refusals_never_reach_the_device(tmp_path: Path) -> None:
    with in_process(tmp_path) as env:
        unknown_chain = new_grant(env, chain_id=1)
        revoked = new_grant(env)
        env.call("signerd_revokeGrant", {"id": revoked})
        asked = env.fake.prompts
        with pytest.raises(ChainNotConfigured):
            env.call("signerd_requestDelegation", {"grantId": unknown_chain})
        with pytest.raises(GrantRevoked):
            env.call("signerd_requestDelegation", {"grantId": revoked})
        with pytest.raises(DelegationNotFound):
            env.call("signerd_getDelegation", {"grantId": unknown_chain})
        assert env.fake.prompts == asked
        events = [e.event for e in env.daemon.store.audit_entries()]
        assert "invalid" in events and "failed" not in events


def test_revocation_on_chain_refusals_never_reach_the_device(tmp_path: Path) -> None:
    """No delegation: DELEGATION_NOT_FOUND; a chain without rpc (BASE) or relayer:
    CHAIN_NOT_CONFIGURED; the grant is revoked off chain all the same (at once)."""
    with in_process(tmp_path) as env:
        bare = new_grant(env)
        with pytest.raises(DelegationNotFound):
            env.call("signerd_disableDelegation", {"grantId": bare})
        delegated = new_grant(env)
        env.call("signerd_requestDelegation", {"grantId": delegated})
        asked = env.fake.prompts
        with pytest.raises(ChainNotConfigured):
            env.call("signerd_disableDelegation", {"grantId": delegated})
        assert env.fake.prompts == asked
        assert env.call("signerd_getGrant", {"id": delegated})["status"] == "revoked"
        assert env.call("signerd_getDelegation", {"grantId": delegated})["disabledAt"] is None


def test_a_top_up_needs_a_held_key_and_a_live_delegation(tmp_path: Path) -> None:
    with in_process(tmp_path) as env:
        grant_id = new_grant(env)  # the agent's own key: the daemon cannot redeem for it
        env.call("signerd_requestDelegation", {"grantId": grant_id})
        with pytest.raises(HeldKeyNotFound):
            env.call("signerd_topUp", {"grantId": grant_id, "amount": "1"})
        # Not ASCII digits, or more than a uint256 holds: INVALID_PARAMS, not an internal error.
        for amount in ("-1", "\u00b2", "1" * 4301, "0"):
            with pytest.raises(ValidationError) as caught:
                env.call("signerd_topUp", {"grantId": grant_id, "amount": amount})
            assert caught.value.field == "amount"
        bare = new_grant(env)
        with pytest.raises(DelegationNotFound):
            env.call("signerd_topUp", {"grantId": bare, "amount": "1"})
