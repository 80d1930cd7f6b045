"""The `[[chains]]` config section and the person's counterfactual account (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator.delegation_framework import bytecode
from signerd.config import Config, load_config
from signerd.errors import ChainNotConfigured, ValidationError
from signerd.onchain.account import PROXY_CREATION_CODE, account_address, create2_address
from signerd.onchain.caveats import Enforcers

A = "0x" + "1" * 40
ENFORCERS = {name: A for name in vars(Enforcers(*[A] * 6))}


def chain_toml(**over: Any) -> str:
    entry: dict[str, Any] = {
        "chain": 31337,
        "rpc": '"http://127.0.0.1:8545"',
        "delegation_manager": f'"{A}"',
        "entry_point": f'"{A}"',
        "factory": f'"{A}"',
        "hybrid_implementation": f'"{A}"',
        **over,
    }
    lines = ["[[chains]]"] + [f"{k} = {v}" for k, v in entry.items() if v is not None]
    lines.append("[chains.enforcers]")
    lines += [f'{k} = "{v}"' for k, v in ENFORCERS.items()]
    return "\n".join(lines) + "\n"


def test_the_proxy_code_is_the_npm_packages() -> None:
    assert "0x" + PROXY_CREATION_CODE.hex() == bytecode("ERC1967Proxy")


def test_create2_matches_eip_1014_example() -> None:
    # EIP-1014's example 1: deployer 0, salt 0, init code 0x00.
    assert create2_address("0x" + "00" * 20, 0, b"\x00") == (
        "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"
    )


def test_the_account_depends_on_owner_and_salt() -> None:
    one = account_address(A, A, "0x" + "2" * 40)
    assert one == account_address(A, A, "0x" + "2" * 40)
    assert one != account_address(A, A, "0x" + "3" * 40)
    assert one != account_address(A, A, "0x" + "2" * 40, salt=1)


def test_a_chain_entry_loads(tmp_path: Path) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(chain_toml())
    config = load_config(path)
    chain = config.chain(31337)
    assert chain.rpc_url() == "http://127.0.0.1:8545"
    assert chain.enforcers.timestamp == A
    with pytest.raises(ChainNotConfigured) as caught:
        config.chain(8453)
    assert caught.value.data == {"chainId": 8453}
    with pytest.raises(ChainNotConfigured):
        Config().chain(31337)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"chain": 0}, "chains.0.chain"),
        ({"factory": '"0x12"'}, "chains.0.factory"),
        ({"rpc": None, "bundler": '"x"'}, "chains.0.bundler"),
        ({"account_salt": -1}, "chains.0.account_salt"),
    ],
)
def test_bad_chain_entries_name_the_setting(
    tmp_path: Path, over: dict[str, Any], field: str
) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(chain_toml(**over))
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.data["field"] == field


def test_without_rpc_an_on_chain_step_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signerd.toml"
    path.write_text(chain_toml(rpc=None))
    with pytest.raises(ChainNotConfigured):
        load_config(path).chain(31337).rpc_url()
