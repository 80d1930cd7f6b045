"""The chains the daemon can put a grant on: the Delegation Framework's addresses per chain.

``[[chains]]`` in signerd.toml, one table per chain::

    [[chains]]
    chain = 31337
    rpc = "http://127.0.0.1:8545"          # needed only to act on chain (revoke, deploy)
    delegation_manager = "0x..."
    entry_point = "0x..."                  # ERC-4337 v0.7 EntryPoint
    factory = "0x..."                      # SimpleFactory: deploys the person's account
    hybrid_implementation = "0x..."        # HybridDeleGator implementation
    account_salt = 0                       # optional: CREATE2 salt of the person's account
    relayer_key_file = "/etc/signerd/relayer.key"   # optional: pays gas, see below
    [chains.enforcers]
    erc20_period = "0x..."
    native_period = "0x..."
    multi_token_period = "0x..."
    timestamp = "0x..."
    value_lte = "0x..."
    exact_calldata = "0x..."

The relayer is an ordinary funded key that submits the device-signed user operations (the
account reimburses it through the EntryPoint) and pays for `signerd account deploy`. It can
neither move the person's funds nor change what the device signed; it only pays gas, so it
is the one secret in the file that is not the person's. A chain the daemon has no entry for
is refused (ChainNotConfigured) before the device is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from signerd.errors import ChainNotConfigured, ValidationError
from signerd.grants import fields as check
from signerd.grants.schema import MAX_CHAIN_ID
from signerd.onchain.caveats import Enforcers

_ADDRESSES: Final = ("delegation_manager", "entry_point", "factory", "hybrid_implementation")
_KEYS: Final = frozenset(
    {"chain", "rpc", "enforcers", "account_salt", "relayer_key_file", *_ADDRESSES}
)


@dataclass(frozen=True)
class ChainConfig:
    chain_id: int
    delegation_manager: str
    entry_point: str
    factory: str
    hybrid_implementation: str
    enforcers: Enforcers
    rpc: str | None = None
    account_salt: int = 0
    relayer_key_file: Path | None = None

    def rpc_url(self) -> str:
        """The node's URL; ChainNotConfigured when the entry names none."""
        if self.rpc is None:
            raise ChainNotConfigured(
                f"chain {self.chain_id} has no rpc URL in [[chains]]", {"chainId": self.chain_id}
            )
        return self.rpc


def chain_config(chains: dict[int, ChainConfig], chain_id: int) -> ChainConfig:
    """The entry for ``chain_id``; ChainNotConfigured when there is none."""
    try:
        return chains[chain_id]
    except KeyError:
        raise ChainNotConfigured(
            f"no [[chains]] entry for chain {chain_id}: the daemon does not know its "
            "DelegationManager and enforcers",
            {"chainId": chain_id},
        ) from None


def parse_chains(raw: Any) -> dict[int, ChainConfig]:
    """``[[chains]]`` as read from TOML; ValidationError names the bad setting."""
    if not isinstance(raw, list):
        raise ValidationError("chains", "must be an array of tables: [[chains]]")
    chains: dict[int, ChainConfig] = {}
    for index, entry in enumerate(raw):
        where = f"chains.{index}"
        if not isinstance(entry, dict):
            raise ValidationError(where, "must be a table")
        unknown = set(entry) - _KEYS
        if unknown:
            raise ValidationError(f"{where}.{sorted(unknown)[0]}", "unknown setting")
        chain_id: int = entry.get("chain", 0)
        if not _is_int(chain_id) or not 1 <= chain_id <= MAX_CHAIN_ID:
            raise ValidationError(f"{where}.chain", f"must be a chain id from 1 to {MAX_CHAIN_ID}")
        if chain_id in chains:
            raise ValidationError(f"{where}.chain", f"chain {chain_id} is configured twice")
        addresses = {key: check.address(entry.get(key), f"{where}.{key}") for key in _ADDRESSES}
        chains[chain_id] = ChainConfig(
            chain_id=chain_id,
            enforcers=_enforcers(entry.get("enforcers"), f"{where}.enforcers"),
            rpc=_optional_text(entry, "rpc", where),
            account_salt=_salt(entry.get("account_salt", 0), f"{where}.account_salt"),
            relayer_key_file=_path(_optional_text(entry, "relayer_key_file", where)),
            **addresses,
        )
    return chains


def _enforcers(raw: Any, where: str) -> Enforcers:
    names = [f.name for f in fields(Enforcers)]
    if not isinstance(raw, dict):
        raise ValidationError(where, "must be a table of enforcer addresses: " + ", ".join(names))
    unknown = set(raw) - set(names)
    if unknown:
        raise ValidationError(f"{where}.{sorted(unknown)[0]}", "unknown enforcer")
    return Enforcers(**{name: check.address(raw.get(name), f"{where}.{name}") for name in names})


def _optional_text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValidationError(f"{where}.{key}", "must be a non-empty string")
    return value


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _salt(value: Any, where: str) -> int:
    if not _is_int(value) or not 0 <= value < 2**256:
        raise ValidationError(where, "must be an integer from 0 to 2^256 - 1")
    return int(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
