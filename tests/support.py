"""Helpers shared by the end-to-end tests: grant requests, waiting, and the CLI as a person runs it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eth_account import Account

from signerd.store import StoredGrant

USDC_BASE = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
TARGET = "0x1111111254EEB25477B68fb85Ed929f73A960582"


def grant_params(**overrides: Any) -> dict[str, Any]:
    """A valid signerd_requestGrant request for a fresh session key, with overrides."""
    params: dict[str, Any] = {
        "agent": "weather-bot",
        "sessionKey": Account.create().address,
        "chainId": 8453,
        "allowances": [{"token": USDC_BASE, "amount": "10000000", "period": 86400}],
        "targets": [TARGET],
        "validFor": 3600,
    }
    params.update(overrides)
    return params


@contextlib.contextmanager
def running_later(delay: float, action: Callable[[], object]) -> Iterator[None]:
    """Run `action` on a helper thread `delay` seconds from now, while the body runs.

    Leaving the block waits for the helper and re-raises what it raised: no helper outlives
    the device it drives, so none can block on a stopped emulator and keep pytest from exiting.
    """
    errors: list[BaseException] = []

    def run() -> None:
        time.sleep(delay)
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    helper = threading.Thread(target=run, name=f"later-{getattr(action, '__name__', 'action')}")
    helper.start()
    try:
        yield
    finally:
        helper.join(timeout=60)
    assert not helper.is_alive(), f"{helper.name} still running 60 s after the block ended"
    if errors:
        raise errors[0]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def signerd_cli(
    *args: str, stdin: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """`signerd ARGS...` in a child process, as a person would type it."""
    return subprocess.run(
        [sys.executable, "-m", "signerd.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def audit_events(data_dir: Path) -> list[str]:
    """The audit log's event names, oldest first (`signerd audit --json`)."""
    out = signerd_cli("audit", "--json", "--data-dir", str(data_dir), check=True).stdout
    return [json.loads(line)["event"] for line in out.splitlines()]


# Stored grants for store-level tests: the signing account, a session key, "never expires".
MASTER = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
SESSION = "0x1111111111111111111111111111111111111111"
FOREVER = 2**64 - 1
NOW = 1_750_000_000.0


def make_grant(
    n: int,
    *,
    created_at: float = NOW,
    valid_after: int = 0,
    valid_until: int = FOREVER,
    session_key: str = SESSION,
    summary: str | None = None,
) -> StoredGrant:
    """Grant `n` as the store keeps it (the store does not re-verify signatures); a `summary`
    gives its document the weight of a real grant's."""
    message: dict[str, Any] = {"nonce": str(2**255 + n)}
    if summary is not None:
        message["summary"] = summary
    grant_id = "0x" + hashlib.sha256(f"grant {n}".encode()).hexdigest()
    return StoredGrant(
        id=grant_id,
        account=MASTER,
        session_key=session_key,
        chain_id=1,
        agent=f"agent-{n} uid 1000 /usr/bin/python3",
        valid_after=valid_after,
        valid_until=valid_until,
        nonce=2**255 + n,
        document={
            "id": grant_id,
            "typedData": {"primaryType": "SessionGrant", "message": message},
            "signature": "0x" + "ab" * 65,
            "signer": MASTER,
        },
        device="trezor Safe 3 udp:127.0.0.1:21324",
        peer_uid=1000,
        created_at=created_at,
    )
