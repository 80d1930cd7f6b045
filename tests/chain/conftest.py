"""Fixtures for tests on a real local chain: anvil with Circle's USDC, and an x402 shop on it.

Module-scoped: starting anvil and deploying the token takes a fraction of a second, but every
test in a module shares one chain and checks balance differences, never absolute values.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from emulator.chain import AnvilProcess, Token, anvil_binary, connect, deploy_usdc, fund_eth

# The price of one paid call: 0.01 USDC.
PRICE = 10_000


@dataclass(frozen=True)
class Chain:
    anvil: AnvilProcess
    w3: Web3
    usdc: Token


def require_anvil() -> None:
    """Skip (visibly) on a machine without node/npm; anywhere npm exists a missing anvil is a
    failure, and CI always has npm (.ci/run installs it)."""
    try:
        anvil_binary()
    except FileNotFoundError:
        if shutil.which("npm") is None and not os.environ.get("CI"):
            pytest.skip("node/npm not installed: the test chain (npm @foundry-rs/anvil) is absent")
        raise


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil on a free loopback port with FiatTokenV2_2 deployed; stopped at the end."""
    require_anvil()
    log: Path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with AnvilProcess(log_path=log) as anvil:
        w3 = connect(anvil.rpc_url)
        yield Chain(anvil, w3, deploy_usdc(w3))


@pytest.fixture(scope="module")
def facilitator_key(chain: Chain) -> str:
    """A fresh key with ether for gas: it submits the settlement transactions."""
    account = Account.create()
    fund_eth(chain.w3, account.address, 10**18)
    return "0x" + bytes(account.key).hex()
