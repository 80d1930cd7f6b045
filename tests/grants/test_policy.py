"""Policy ceilings (rates, the start horizon) and the configuration file that sets them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from signerd.config import Policy, load_config
from signerd.errors import PolicyRefused, ValidationError
from signerd.grants import BUILTIN_TOKENS, GrantRequest, TokenInfo, parse_grant_request
from signerd.policy import check_policy
from tests.support import NATIVE, NOW_SECONDS, TARGET, USDC_BASE, daily_usdc, grant_params, some_eth


def request(**overrides: object) -> GrantRequest:
    """10 USDC a day and 0.001 ETH in total, one target, valid for an hour."""
    params = grant_params(agent="bot", allowances=[daily_usdc(), some_eth()])
    params.update(overrides)
    return parse_grant_request(params, now=NOW_SECONDS)


def test_no_ceilings_allow_everything() -> None:
    check_policy(request(), Policy())


DAY = 86_400
USDC_10 = 10_000_000  # 10 USDC in base units


def usdc(amount: int, period: int) -> dict[str, object]:
    return {"token": USDC_BASE, "amount": str(amount), "period": period}


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (Policy(max_validity=600), "validity: 3600 s exceeds the configured maximum of 600 s"),
        (
            Policy(max_allowance={USDC_BASE: 9_999_999}),
            f"allowances.0.amount: 10000000 per 86400 s is 10000000 base units of {USDC_BASE} per "
            "86400 s, over the configured maximum of 9999999 (max_allowance)",
        ),
        (Policy(allowed_tokens=frozenset({USDC_BASE})), f"allowances.1.token: {NATIVE} is not"),
        (Policy(allowed_targets=frozenset()), f"targets.0: {TARGET} is not an allowed target"),
    ],
)
def test_each_ceiling_refuses_naming_the_field(policy: Policy, words: str) -> None:
    with pytest.raises(PolicyRefused, match=re.escape(words)):
        check_policy(request(), policy)


def test_issue_case_a_rate_per_second_is_not_under_a_cap_per_day() -> None:
    # Reproduced: max_allowance 10 USDC let 10 USDC per second (864,000 USDC a day) through.
    req = request(allowances=[usdc(USDC_10, 1)], validFor=2 * DAY)
    with pytest.raises(PolicyRefused, match="864000000000 base units") as caught:
        check_policy(req, Policy(max_allowance={USDC_BASE: USDC_10}))
    assert caught.value.message.startswith("allowances.0.amount: 10000000 per 1 s is ")


def test_issue_case_allowances_on_the_same_token_add_up() -> None:
    # Reproduced: four allowances on one token, each at the cap, all passed.
    allowances = [usdc(USDC_10, days * DAY) for days in (1, 2, 3, 4)]
    policy = Policy(max_allowance={USDC_BASE: USDC_10})
    req = request(allowances=allowances, targets=[], validFor=7 * DAY)
    with pytest.raises(PolicyRefused) as caught:
        check_policy(req, policy)
    assert caught.value.message == (
        "allowances.1.amount: 10000000 per 172800 s is, with the allowances before it, "
        f"15000000 base units of {USDC_BASE} per 86400 s, over the configured maximum of 10000000 "
        "(max_allowance)"
    )
    # Each alone is within the cap.
    for allowance in allowances:
        check_policy(request(allowances=[allowance], validFor=7 * DAY), policy)


def test_issue_case_valid_after_has_a_horizon() -> None:
    # Reproduced: a window opening 300 days ahead passed max_validity (which bounds its length).
    req = request(validAfter=NOW_SECONDS + 300 * DAY, validFor=DAY, targets=[])
    with pytest.raises(PolicyRefused) as caught:
        check_policy(req, Policy(max_validity=7 * DAY))
    assert caught.value.message == (
        "validAfter: starts 25920000 s from now, beyond the configured horizon of 2592000 s "
        "(max_start_delay)"
    )
    check_policy(request(validAfter=NOW_SECONDS + 30 * DAY, validFor=DAY, targets=[]), Policy())
    check_policy(req, Policy(max_start_delay=300 * DAY))
    check_policy(req, Policy(max_start_delay=None))


@pytest.mark.parametrize(
    ("allowance", "valid_for", "rate"),
    [
        # Period 0 is one window for the whole validity: 10 USDC over 2 days is 5 a day.
        (usdc(USDC_10, 0), 2 * DAY, 5_000_000),
        # A period longer than the validity counts as the validity: all of it can be spent.
        (usdc(USDC_10, 30 * DAY), 2 * DAY, 5_000_000),
        (usdc(USDC_10, 30 * DAY), 60 * DAY, 333_334),  # 333,333.33...: not under 333,333
        (usdc(USDC_10, 3600), 2 * DAY, 24 * USDC_10),
        # A grant shorter than the rate period is bounded by all it can spend.
        (usdc(USDC_10, 0), 3600, USDC_10),
        (usdc(USDC_10, DAY), 3600, USDC_10),
        (usdc(USDC_10, 3600), 3 * 3600 + 1, 4 * USDC_10),
        (usdc(USDC_10, 1), DAY, DAY * USDC_10),
    ],
)
def test_every_allowance_is_normalised_to_the_rate_period(
    allowance: dict[str, object], valid_for: int, rate: int
) -> None:
    req = request(allowances=[allowance], validFor=valid_for)
    check_policy(req, Policy(max_allowance={USDC_BASE: rate}))
    with pytest.raises(PolicyRefused, match="over the configured maximum"):
        check_policy(req, Policy(max_allowance={USDC_BASE: rate - 1}))


def test_the_rate_period_is_configurable() -> None:
    req = request(allowances=[usdc(USDC_10, DAY)], validFor=7 * DAY)
    check_policy(req, Policy(max_allowance={USDC_BASE: 70_000_000}, rate_period=7 * DAY))
    with pytest.raises(PolicyRefused, match="per 604800 s"):
        check_policy(req, Policy(max_allowance={USDC_BASE: 69_999_999}, rate_period=7 * DAY))


def test_at_the_ceiling_is_allowed() -> None:
    policy = Policy(
        max_validity=3600,
        max_allowance={USDC_BASE: 10_000_000, NATIVE: 10**15},
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
        "rate_period = 3600\n"
        "max_start_delay = 0\n"
        f'allowed_targets = ["{TARGET}"]\n'
        "[policy.max_allowance]\n"
        f'"{USDC_BASE}" = "100000000"\n'
        "[[tokens]]\n"
        f'chain = 31337\naddress = "{TARGET}"\nsymbol = "USDC"\ndecimals = 6\n'
    )
    config = load_config(path)
    assert config.device == "udp:127.0.0.1:21324"
    assert config.allowed_uids == frozenset({os.getuid(), 4242})
    assert (config.approval_timeout, config.max_pending_per_peer) == (30.0, 2)
    assert config.policy.max_allowance == {USDC_BASE: 100_000_000}
    assert config.policy.allowed_targets == frozenset({TARGET})
    assert config.policy.allowed_tokens is None
    assert (config.policy.rate_period, config.policy.max_start_delay) == (3600, 0)
    assert config.tokens[(31337, TARGET)] == TokenInfo("USDC", 6)
    assert config.tokens[(8453, USDC_BASE)] == TokenInfo("USDC", 6)  # the built-in table stays
    assert config.with_overrides(approval_timeout=5.0, device=None).approval_timeout == 5.0


def test_defaults_without_a_config_file() -> None:
    config = load_config(None)
    assert config.tokens == BUILTIN_TOKENS
    assert (config.policy.rate_period, config.policy.max_start_delay) == (86400, 30 * 86400)


def _token(**fields: object) -> str:
    """One [[tokens]] entry; ``fields`` replace or add to a valid one."""
    entry: dict[str, object] = {
        "chain": 31337,
        "address": TARGET,
        "symbol": "USDC",
        "decimals": 6,
    }
    entry.update(fields)
    lines = [f"{key} = {value!r}".replace("'", '"') for key, value in entry.items()]
    return "[[tokens]]\n" + "\n".join(lines).replace("True", "true") + "\n"


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
        ("[policy]\nrate_period = 0\n", "policy.rate_period"),
        ("[policy]\nmax_start_delay = -1\n", "policy.max_start_delay"),
        ('tokens = "USDC"\n', "tokens"),
        ("[[tokens]]\nchain = 1\n", "tokens.0.address"),
        (_token(chain=0), "tokens.0.chain"),
        (_token(chain=2**63), "tokens.0.chain"),
        (_token(address=TARGET.lower()), "tokens.0.address"),
        (_token(symbol="US DC"), "tokens.0.symbol"),
        (_token(symbol=""), "tokens.0.symbol"),
        (_token(symbol="ABCDEFGHIJKL"), "tokens.0.symbol"),
        (_token(decimals=37), "tokens.0.decimals"),
        (_token(decimals=True), "tokens.0.decimals"),
        (_token(colour="red"), "tokens.0.colour"),
        (_token(chain=8453, address=USDC_BASE, symbol="USD"), "tokens.0"),
        (_token(address=NATIVE, decimals=6), "tokens.0.decimals"),
        (_token() + _token(symbol="USDT"), "tokens.1"),
        ("not toml at all [", "config"),
    ],
)
def test_bad_config_names_the_setting(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(text)
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.field == field
