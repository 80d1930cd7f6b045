"""ERC-7715 in process: every bad request gets its documented error and nothing reaches the
device (a FakeSigner counts the prompts); a context whose caveats do not match its grant is
refused before the revocation is shown."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest

from signerd.errors import (
    ChainError,
    ChainNotConfigured,
    DelegationMismatch,
    ErrorCode,
    PermissionUnsupported,
    SignerdError,
    ValidationError,
)
from signerd.onchain.delegation import (
    MAX_PERMISSION_CONTEXT,
    Delegation,
    encode_permission_context,
)
from signerd.rpc.protocol import POSITIONAL
from tests.api.onchain import BASE, CHAIN_ID, InProcess, in_process
from tests.payments.factories import new_key, payment_grant_params
from tests.support import USDC_BASE

DAY = 86_400


def permission(**over: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "chainId": hex(CHAIN_ID),
        "to": new_key().public_key.to_checksum_address(),
        "permission": {
            "type": "erc20-token-periodic",
            "isAdjustmentAllowed": False,
            "data": {"tokenAddress": USDC_BASE, "periodAmount": hex(10**6), "periodDuration": DAY},
        },
        "rules": [{"type": "expiry", "data": {"timestamp": int(time.time()) + DAY}}],
    }
    request.update(over)
    return request


def with_data(**data: Any) -> dict[str, Any]:
    request = permission()
    request["permission"]["data"] |= data
    return request


def ask(env: InProcess, *requests: dict[str, Any]) -> Any:
    return env.call("wallet_requestExecutionPermissions", {POSITIONAL: list(requests)})


BAD: list[tuple[dict[str, Any], type[SignerdError], str | None]] = [
    (
        permission(
            permission={"type": "erc20-token-stream", "isAdjustmentAllowed": False, "data": {}}
        ),
        PermissionUnsupported,
        None,
    ),
    (with_data(periodAmount="1000"), ValidationError, "0.permission.data.periodAmount"),
    (with_data(periodDuration="day"), ValidationError, "0.permission.data.periodDuration"),
    (with_data(tokenAddress="0x12"), ValidationError, "0.permission.data.tokenAddress"),
    (with_data(colour="red"), ValidationError, "0.permission.data.colour"),
    (
        permission(rules=[{"type": "expiry", "data": {"timestamp": int(time.time()) - 1}}]),
        ValidationError,
        "0.rules.0.data.timestamp",
    ),
    (permission(rules=[]), ValidationError, "0.rules"),
    (
        permission(rules=[{"type": "redeemer", "data": {"addresses": []}}]),
        PermissionUnsupported,
        None,
    ),
    (permission(chainId=hex(1)), ChainNotConfigured, None),
    # int(x, 16) alone would take these as chain 0x7a69.
    (permission(chainId="0x7a_69"), ValidationError, "0.chainId"),
    (permission(chainId="0x7a69 "), ValidationError, "0.chainId"),
    (permission(chainId="0x\u0667a69"), ValidationError, "0.chainId"),
    # The zero address is signerd's native coin: an erc20 permission must name a token.
    (with_data(tokenAddress="0x" + "00" * 20), ValidationError, "0.permission.data.tokenAddress"),
]


@pytest.mark.parametrize(("request_", "error", "field"), BAD)
def test_bad_requests_never_reach_the_device(
    tmp_path: Path, request_: dict[str, Any], error: type[SignerdError], field: str | None
) -> None:
    with in_process(tmp_path) as env:
        with pytest.raises(error) as caught:
            ask(env, request_)
        assert env.fake.prompts == 0
    if field is not None:
        assert caught.value.data["field"] == field
    assert caught.value.code != ErrorCode.INTERNAL_ERROR


# Refused by the grant's own checks (on a chain that has an rpc), named as the request has
# them, not as signerd's grant params (validUntil, sessionKey).
BAD_FOR_A_GRANT: list[tuple[dict[str, Any], str]] = [
    (with_data(startTime=1), "0.rules.0.data.timestamp"),  # a window of 56 years
    (
        permission(rules=[{"type": "expiry", "data": {"timestamp": 2**40}}]),
        "0.rules.0.data.timestamp",
    ),
    (permission(to="0x" + "00" * 20), "0.to"),
]


@pytest.mark.parametrize(("request_", "field"), BAD_FOR_A_GRANT)
def test_a_grant_refusal_names_the_request_field(
    tmp_path: Path, request_: dict[str, Any], field: str
) -> None:
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        with pytest.raises(ValidationError) as caught:
            ask(env, permission(), request_)  # the second request of the call
        assert env.fake.prompts == 0
    assert caught.value.data["field"] == field.replace("0.", "1.", 1)


def test_a_chain_without_rpc_is_refused_before_the_device(tmp_path: Path) -> None:
    with in_process(tmp_path) as env:  # BASE has no rpc URL
        assert env.call("wallet_getSupportedExecutionPermissions", {POSITIONAL: []}) == {
            kind: {"chainIds": [], "ruleTypes": ["expiry"]}
            for kind in (
                "erc20-token-periodic",
                "native-token-periodic",
                "erc20-token-allowance",
                "native-token-allowance",
            )
        }
        with pytest.raises(ChainNotConfigured):
            ask(env, permission())
        assert env.fake.prompts == 0


def test_a_context_that_does_not_match_its_grant_is_refused(tmp_path: Path) -> None:
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        session = new_key().public_key.to_checksum_address()
        grant = env.call("signerd_requestGrant", payment_grant_params(session))["grant"]
        stored = env.call("signerd_requestDelegation", {"grantId": grant["id"]})
        asked = env.fake.prompts
        delegation = Delegation.from_json(stored["delegation"])
        first, *rest = delegation.caveats
        wider = dataclasses.replace(first, terms=first.terms[:-1] + b"\x00")
        forged = dataclasses.replace(delegation, caveats=(wider, *rest))
        context = "0x" + encode_permission_context([forged]).hex()
        with pytest.raises(DelegationMismatch) as caught:
            env.call("wallet_revokeExecutionPermission", {"permissionContext": context})
        assert caught.value.data == {"field": "caveats.0"}
        with pytest.raises(DelegationMismatch):
            env.call("wallet_revokeExecutionPermission", {"permissionContext": "0x1234"})
        assert env.fake.prompts == asked


def test_the_context_methods_load_eth_abi_in_a_thread_before_coding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A context is ABI-coded on the event loop: eth-abi, deferred at start-up, must have
    been imported in a thread first (onchain.libraries.loaded), not by the first call."""
    from signerd.api import erc7715

    events: list[str] = []
    real_loaded, real_decode = erc7715.loaded, erc7715.root_delegation

    async def loaded(*modules: str) -> None:
        events.append("loaded " + " ".join(modules))
        await real_loaded(*modules)

    def decode(context: bytes) -> Any:
        events.append("decode")
        return real_decode(context)

    monkeypatch.setattr(erc7715, "loaded", loaded)
    monkeypatch.setattr(erc7715, "root_delegation", decode)
    with in_process(tmp_path) as env:
        assert env.call("wallet_getGrantedExecutionPermissions", {POSITIONAL: []}) == []
        with pytest.raises(DelegationMismatch):
            env.call("wallet_revokeExecutionPermission", {"permissionContext": "0x1234"})
    assert events == ["loaded eth_abi.abi", "loaded eth_abi.abi", "decode"]


def test_a_context_is_bounded_before_it_is_decoded(tmp_path: Path) -> None:
    """ABI offsets may alias: a few KB naming many delegations of many caveats, all the
    same one, would decode into millions of objects on the daemon. Only one delegation, in
    at most MAX_PERMISSION_CONTEXT bytes, is decoded at all."""
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        session = new_key().public_key.to_checksum_address()
        grant = env.call("signerd_requestGrant", payment_grant_params(session))["grant"]
        stored = env.call("signerd_requestDelegation", {"grantId": grant["id"]})
        delegation = Delegation.from_json(stored["delegation"])
        asked = env.fake.prompts

        def revoke(context: str) -> SignerdError:
            with pytest.raises(SignerdError) as caught:
                env.call("wallet_revokeExecutionPermission", {"permissionContext": context})
            return caught.value

        two = revoke("0x" + encode_permission_context([delegation, delegation]).hex())
        assert isinstance(two, DelegationMismatch)
        assert "one root delegation" in two.message
        long = revoke("0x" + "00" * (MAX_PERMISSION_CONTEXT + 1))
        assert isinstance(long, ValidationError)
        assert long.data["field"] == "permissionContext"
        for bad in ("0x12 34", "0x123", "0x\u0660\u0660"):
            assert isinstance(revoke(bad), ValidationError), bad
        assert env.fake.prompts == asked


def test_every_request_of_a_call_is_checked_before_the_first_approval(tmp_path: Path) -> None:
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        with pytest.raises(ChainNotConfigured):
            ask(env, permission(), permission(chainId=hex(1)))
        assert env.fake.prompts == 0
        assert env.call("signerd_listGrants", {})["grants"] == []


def test_a_node_that_cannot_answer_leaves_no_permission_granted(tmp_path: Path) -> None:
    """The response's dependencies need the node, after both approvals: when it cannot
    answer, the caller gets the error and the grant is revoked, not left live without the
    context its caller never got."""
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        with pytest.raises(ChainError):
            ask(env, permission())
        assert env.fake.prompts == 2  # the grant, then its delegation
        [grant] = env.call("signerd_listGrants", {})["grants"]
        assert grant["status"] == "revoked"
        assert env.call("wallet_getGrantedExecutionPermissions", {POSITIONAL: []}) == []


def test_a_permission_that_starts_later_is_listed_as_granted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from signerd.flows import permissions

    async def no_dependencies(*_args: Any) -> list[Any]:
        return []  # what a node says of an account that exists (none here)

    monkeypatch.setattr(permissions, "dependencies", no_dependencies)
    chains = {CHAIN_ID: dataclasses.replace(BASE, rpc="http://127.0.0.1:9")}
    with in_process(tmp_path, chains) as env:
        start = int(time.time()) + 3600
        [answer] = ask(env, with_data(startTime=start))
        assert answer["permission"]["data"]["startTime"] == start
        [now_on] = ask(env, permission())  # no startTime: the response says when it started
        assert abs(now_on["permission"]["data"]["startTime"] - time.time()) < 60
        granted = env.call("wallet_getGrantedExecutionPermissions", {POSITIONAL: []})
        assert {g["context"] for g in granted} == {answer["context"], now_on["context"]}
        # A grant without a delegation is no permission.
        session = new_key().public_key.to_checksum_address()
        env.call("signerd_requestGrant", payment_grant_params(session))
        assert len(env.call("wallet_getGrantedExecutionPermissions", {POSITIONAL: []})) == 2
