"""Policy ceilings and the configuration file that sets them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from signerd.config import Policy, load_config
from signerd.errors import PolicyRefused, ValidationError
from signerd.grants import GrantRequest, parse_grant_request
from signerd.policy import check_policy

USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
NATIVE = "0x" + "0" * 40
TARGET = "0x1111111254EEB25477B68fb85Ed929f73A960582"
NOW = 1_800_000_000


def request(**overrides: object) -> GrantRequest:
    data: dict[str, object] = {
        "agent": "bot",
        "sessionKey": "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4",
        "chainId": 8453,
        "allowances": [
            {"token": USDC, "amount": "10000000", "period": 86400},
            {"token": NATIVE, "amount": "1000", "period": 0},
        ],
        "targets": [TARGET],
        "validFor": 3600,
    }
    data.update(overrides)
    return parse_grant_request(data, now=NOW)


def test_no_ceilings_allow_everything() -> None:
    check_policy(request(), Policy())


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (Policy(max_validity=600), "validity: 3600 s exceeds the configured maximum of 600 s"),
        (Policy(max_allowance={USDC: 9_999_999}), "allowances.0.amount: 10000000 exceeds"),
        (Policy(allowed_tokens=frozenset({USDC})), f"allowances.1.token: {NATIVE} is not"),
        (Policy(allowed_targets=frozenset()), f"targets.0: {TARGET} is not an allowed target"),
    ],
)
def test_each_ceiling_refuses_naming_the_field(policy: Policy, words: str) -> None:
    with pytest.raises(PolicyRefused, match=words):
        check_policy(request(), policy)


def test_at_the_ceiling_is_allowed() -> None:
    policy = Policy(
        max_validity=3600,
        max_allowance={USDC: 10_000_000, NATIVE: 1000},
        allowed_tokens=frozenset({USDC, NATIVE}),
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
        f'"{USDC}" = "100000000"\n'
    )
    config = load_config(path)
    assert config.device == "udp:127.0.0.1:21324"
    assert config.allowed_uids == frozenset({os.getuid(), 4242})
    assert (config.approval_timeout, config.max_pending_per_peer) == (30.0, 2)
    assert config.policy.max_allowance == {USDC: 100_000_000}
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
        (f'[policy]\nallowed_tokens = ["{USDC.lower()}"]\n', "policy.allowed_tokens.0"),
        (f'[policy.max_allowance]\n"{USDC}" = -1\n', f"policy.max_allowance.{USDC}"),
        ("not toml at all [", "config"),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.field == field
