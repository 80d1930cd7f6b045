"""`signerd verify` as a payee runs it: what it refuses, what it binds, what it shows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from signerd.grants import verify_grant
from signerd.grants.verify import MALFORMED, WRONG_CHAIN
from tests.support import USDC_BASE, signerd_cli


@pytest.fixture
def live_grant(make_grant: Any, request_json: dict[str, Any]) -> dict[str, Any]:
    """The valid grant, still valid on the real clock the CLI reads."""
    request = {k: v for k, v in request_json.items() if k != "validFor"}
    grant: dict[str, Any] = make_grant({**request, "validUntil": int(time.time()) + 86400})
    return grant


def test_verify_refuses_a_file_carrying_the_private_key(
    tmp_path: Path, live_grant: dict[str, Any]
) -> None:
    grant = live_grant
    key = "0x" + "11" * 32
    reply = {"grant": grant, "status": "active", "sessionPrivateKey": key}
    path = tmp_path / "reply.json"
    path.write_text(json.dumps(reply))
    result = signerd_cli("verify", str(path))
    assert result.returncode == 2  # invalid input
    assert "carries a session private key" in result.stderr
    assert key[2:] not in result.stdout + result.stderr
    path.write_text(json.dumps(grant))
    assert signerd_cli("verify", str(path)).returncode == 0


def test_the_expected_chain_is_bound(grant: dict[str, Any], now: int) -> None:
    assert verify_grant(grant, expected_chain_id=8453, now=now).valid
    other = verify_grant(grant, expected_chain_id=1, now=now)
    assert (other.valid, other.reason) == (False, WRONG_CHAIN)
    assert other.detail == "the grant is for chain 8453, expected chain 1"
    assert other.terms is not None and other.terms["chainId"] == 8453
    assert verify_grant(grant, expected_chain_id=0, now=now).reason == MALFORMED


def test_verify_shows_chain_limits_and_window(tmp_path: Path, live_grant: dict[str, Any]) -> None:
    path = tmp_path / "grant.json"
    path.write_text(json.dumps(live_grant))
    shown = signerd_cli("verify", str(path), "--chain-id", "8453")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("valid: grant ")
    assert "  chain:       8453" in lines
    assert f"  allowance:   10000000 base units of USDC {USDC_BASE} per 86400 s" in lines
    until = live_grant["typedData"]["message"]["validUntil"]
    assert any(line.startswith("  valid:") and time.gmtime(until).tm_year >= 2026 for line in lines)
    refused = signerd_cli("verify", str(path), "--chain-id", "1")
    assert refused.returncode == 1
    assert "invalid (wrong_chain): the grant is for chain 8453, expected chain 1" in refused.stderr
