"""Policy ceilings and the configuration file that sets them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signerd.config import Policy, load_config
from signerd.errors import PolicyRefused, ValidationError
from signerd.grants import GrantRequest, parse_grant_request
from signerd.policy import check_policy
from tests.support import NATIVE, NOW_SECONDS, TARGET, USDC_BASE, daily_usdc, grant_params, some_eth


def request(**overrides: object) -> GrantRequest:
    """10 USDC a day and 5 wei of ETH, one target, valid for an hour."""
    params = grant_params(agent="bot", allowances=[daily_usdc(), some_eth()], **overrides)
    return parse_grant_request(params, now=NOW_SECONDS)


def test_no_ceilings_allow_everything() -> None:
    check_policy(request(), Policy())


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (Policy(max_validity=600), "validity: 3600 s exceeds the configured maximum of 600 s"),
        (Policy(max_allowance={USDC_BASE: 9_999_999}), "allowances.0.amount: 10000000 exceeds"),
        (Policy(allowed_tokens=frozenset({USDC_BASE})), f"allowances.1.token: {NATIVE} is not"),
        (Policy(allowed_targets=frozenset()), f"targets.0: {TARGET} is not an allowed target"),
    ],
)
def test_each_ceiling_refuses_naming_the_field(policy: Policy, words: str) -> None:
    with pytest.raises(PolicyRefused, match=words):
        check_policy(request(), policy)


def test_at_the_ceiling_is_allowed() -> None:
    policy = Policy(
        max_validity=3600,
        max_allowance={USDC_BASE: 10_000_000, NATIVE: 5},
        allowed_tokens=frozenset({USDC_BASE, NATIVE}),
        allowed_targets=frozenset({TARGET}),
    )
    check_policy(request(), policy)


def test_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(
        "[daemon]\n"
        'device = "udp:127.0.0.1:21324"\n'
        f"allowed_uids = [{os.getuid()}, 4242]\n"
        "approval_timeout = 30\n"
        "max_pending_per_peer = 2\n"
        "[policy]\n"
        "max_validity = 86400\n"
        f'allowed_targets = ["{TARGET}"]\n'
        "[policy.max_allowance]\n"
        f'"{USDC_BASE}" = "100000000"\n'
    )
    config = load_config(path)
    assert config.device == "udp:127.0.0.1:21324"
    assert config.allowed_uids == frozenset({os.getuid(), 4242})
    assert (config.approval_timeout, config.max_pending_per_peer) == (30.0, 2)
    assert config.policy.max_allowance == {USDC_BASE: 100_000_000}
    assert config.policy.allowed_targets == frozenset({TARGET})
    assert config.policy.allowed_tokens is None
    assert config.with_overrides(approval_timeout=5.0, device=None).approval_timeout == 5.0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[daemon]\ncolour = 1\n", "daemon.colour"),
        ("[deamon]\n", "deamon"),
        ("[daemon]\nallowed_uids = [-1]\n", "daemon.allowed_uids"),
        ("[daemon]\napproval_timeout = 0\n", "daemon.approval_timeout"),
        ("[daemon]\nallow_blind_signing = 1\n", "daemon.allow_blind_signing"),
        ('[daemon]\nsocket_group = "no-such-group-here"\n', "daemon.socket_group"),
        ("[policy]\nmax_validity = true\n", "policy.max_validity"),
        (f'[policy]\nallowed_tokens = ["{USDC_BASE.lower()}"]\n', "policy.allowed_tokens.0"),
        (f'[policy.max_allowance]\n"{USDC_BASE}" = -1\n', f"policy.max_allowance.{USDC_BASE}"),
        ("not toml at all [", "config"),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.field == field
