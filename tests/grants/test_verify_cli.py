"""`signerd verify` as a payee runs it: what it refuses, what it binds, what it shows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import signerd_cli


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
    assert result.returncode == 1
    assert "carries a session private key" in result.stderr
    assert key[2:] not in result.stdout + result.stderr
    path.write_text(json.dumps(grant))
    assert signerd_cli("verify", str(path)).returncode == 0
