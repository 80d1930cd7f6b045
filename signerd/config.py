"""Daemon configuration: command-line options over an optional TOML file over defaults.

Example ``signerd.toml``::

    [daemon]
    device = "udp:127.0.0.1:21324"
    allowed_uids = [1000, 1001]      # default: only the daemon's own uid
    admin_uids = [1000]              # see every uid's grants (default: the daemon's own uid)
    socket_group = "agents"          # socket becomes 0660 for this group
    approval_timeout = 120           # seconds the person has to answer on the device
    max_pending_per_peer = 4         # requests waiting for the device, per agent (uid, pid)
    max_connections = 512
    max_connections_per_uid = 384    # one uid's share of max_connections
    allow_blind_signing = false      # hash-only signing needs this explicit switch

    [policy]
    max_validity = 604800            # seconds a grant may last
    max_start_delay = 2592000        # how far ahead validAfter may be (default 30 days)
    rate_period = 86400              # the period max_allowance is per (default a day)
    allowed_tokens = ["0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"]
    allowed_targets = []
    [policy.max_allowance]           # per token, base units per rate_period
    "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" = "100000000"

    [[tokens]]                       # names the summary may give a token (one table each)
    chain = 31337
    address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    symbol = "USDC"
    decimals = 6

``[[chains]]`` tells the daemon where MetaMask's Delegation Framework is on a chain, so that a
grant can also become an on-chain delegation (signerd/onchain/chains.py documents the keys).

``[[tokens]]`` adds to the built-in table (signerd/grants/tokens.py); it cannot rename a
built-in token. Every error is a ValidationError naming the setting ("tokens.0.symbol").
"""

from __future__ import annotations

import grp
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from signerd.devices.base import DEFAULT_DERIVATION_PATH
from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.grants.schema import MAX_CHAIN_ID, MAX_DECIMALS
from signerd.grants.tokens import BUILTIN_TOKENS, TokenInfo, TokenTable, token_table
from signerd.grants.tokens import symbol as token_symbol
from signerd.onchain.chains import ChainConfig, chain_config, parse_chains
from signerd.safepath import trusted_file

DEFAULT_RATE_PERIOD = 86_400
DEFAULT_MAX_START_DELAY = 30 * 86_400


@dataclass(frozen=True)
class Policy:
    """Ceilings checked before a request reaches the device; None means no ceiling.

    ``max_allowance`` is a rate: base units of a token per ``rate_period`` seconds, all of a
    request's allowances on that token together (signerd/policy.py). ``max_start_delay``
    bounds how far after the request validAfter may be.
    """

    max_validity: int | None = None
    max_allowance: dict[str, int] = field(default_factory=dict)
    rate_period: int = DEFAULT_RATE_PERIOD
    max_start_delay: int | None = DEFAULT_MAX_START_DELAY
    allowed_tokens: frozenset[str] | None = None
    allowed_targets: frozenset[str] | None = None


@dataclass(frozen=True)
class Config:
    device: str | None = None
    socket_path: Path = field(default_factory=lambda: default_socket_path())
    data_dir: Path = field(default_factory=lambda: default_data_dir())
    allowed_uids: frozenset[int] = field(default_factory=lambda: frozenset({os.getuid()}))
    # Uids that list, read and revoke every uid's grants; any other uid sees only its own.
    admin_uids: frozenset[int] = field(default_factory=lambda: frozenset({os.getuid()}))
    socket_gid: int | None = None
    approval_timeout: float = 120.0
    queue_timeout: float = 600.0
    max_pending_per_peer: int = 4
    max_connections: int = 512
    # Below max_connections, so that one uid's connections always leave room for the others.
    max_connections_per_uid: int = 384
    allow_blind_signing: bool = False
    derivation_path: str = DEFAULT_DERIVATION_PATH
    policy: Policy = field(default_factory=Policy)
    tokens: TokenTable = field(default_factory=lambda: BUILTIN_TOKENS)
    chains: dict[int, ChainConfig] = field(default_factory=dict)

    def chain(self, chain_id: int) -> ChainConfig:
        """The chain's Delegation Framework entry; ChainNotConfigured when there is none."""
        return chain_config(self.chains, chain_id)

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with the given fields replaced, ignoring those left as None."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


SOCKET_ENV = "SIGNERD_SOCKET"


def default_socket_path() -> Path:
    """$SIGNERD_SOCKET (every client and the daemon honour it), else the standard path."""
    configured = os.environ.get(SOCKET_ENV)
    if configured:
        return Path(configured)
    runtime = _xdg_directory("XDG_RUNTIME_DIR", Path(f"/tmp/signerd-{os.getuid()}"))
    return runtime / "signerd" / "signerd.sock"


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/signerd``, else ``~/.local/share/signerd``."""
    return _xdg_directory("XDG_DATA_HOME", Path.home() / ".local" / "share") / "signerd"


def _xdg_directory(variable: str, fallback: Path) -> Path:
    """``$variable`` if it is an absolute path, else ``fallback``.

    The XDG base directory spec says a relative value is invalid and must be ignored: taken
    as is, it would put the store (or the socket) under whatever directory the daemon, the
    CLI or an agent happened to start in, each finding a different one.
    """
    value = os.environ.get(variable, "")
    return Path(value) if os.path.isabs(value) else fallback


_DAEMON_KEYS = {
    "device",
    "socket",
    "data_dir",
    "allowed_uids",
    "admin_uids",
    "socket_group",
    "approval_timeout",
    "queue_timeout",
    "max_pending_per_peer",
    "max_connections",
    "max_connections_per_uid",
    "allow_blind_signing",
    "derivation_path",
}
_POLICY_KEYS = {
    "max_validity",
    "max_allowance",
    "rate_period",
    "max_start_delay",
    "allowed_tokens",
    "allowed_targets",
}
_TOKEN_KEYS = ("chain", "address", "symbol", "decimals")


def load_config(path: Path | None) -> Config:
    """Read a TOML config file (None: defaults). ValidationError names the bad key."""
    if path is None:
        return Config()
    try:
        # Another user able to edit it could make the daemon serve them (allowed_uids).
        raw = tomllib.loads(trusted_file(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError("config", f"cannot read {path}: {exc}") from exc
    unknown = set(raw) - {"daemon", "policy", "tokens", "chains"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "unknown config section")
    daemon = _table(raw, "daemon", _DAEMON_KEYS)
    policy = _table(raw, "policy", _POLICY_KEYS)
    config = Config()
    values: dict[str, Any] = {}
    if "device" in daemon:
        values["device"] = _str(daemon, "device")
    if "socket" in daemon:
        values["socket_path"] = Path(_str(daemon, "socket"))
    if "data_dir" in daemon:
        values["data_dir"] = Path(_str(daemon, "data_dir"))
    for key in ("allowed_uids", "admin_uids"):
        if key in daemon:
            uids = daemon[key]
            if not isinstance(uids, list) or not all(_is_int(u) and u >= 0 for u in uids):
                raise ValidationError(f"daemon.{key}", "must be a list of uids")
            values[key] = frozenset(uids)
    if "socket_group" in daemon:
        name = _str(daemon, "socket_group")
        try:
            values["socket_gid"] = grp.getgrnam(name).gr_gid
        except KeyError:
            raise ValidationError("daemon.socket_group", f"no group named {name!r}") from None
    for key in ("approval_timeout", "queue_timeout"):
        if key in daemon:
            value = daemon[key]
            if not (_is_int(value) or isinstance(value, float)) or value <= 0:
                raise ValidationError(f"daemon.{key}", "must be a positive number of seconds")
            values[key] = float(value)
    for key in ("max_pending_per_peer", "max_connections", "max_connections_per_uid"):
        if key in daemon:
            if not _is_int(daemon[key]) or daemon[key] < 1:
                raise ValidationError(f"daemon.{key}", "must be a positive integer")
            values[key] = daemon[key]
    if "allow_blind_signing" in daemon:
        if not isinstance(daemon["allow_blind_signing"], bool):
            raise ValidationError("daemon.allow_blind_signing", "must be true or false")
        values["allow_blind_signing"] = daemon["allow_blind_signing"]
    if "derivation_path" in daemon:
        values["derivation_path"] = _str(daemon, "derivation_path")
    values["policy"] = _policy(policy)
    values["tokens"] = _tokens(raw.get("tokens", []))
    values["chains"] = parse_chains(raw.get("chains", []))
    return replace(config, **values)


def _policy(table: dict[str, Any]) -> Policy:
    max_validity = table.get("max_validity")
    if max_validity is not None and (not _is_int(max_validity) or max_validity < 1):
        raise ValidationError("policy.max_validity", "must be a positive number of seconds")
    rate_period = table.get("rate_period", DEFAULT_RATE_PERIOD)
    if not _is_int(rate_period) or rate_period < 1:
        raise ValidationError("policy.rate_period", "must be a positive number of seconds")
    max_start_delay = table.get("max_start_delay", DEFAULT_MAX_START_DELAY)
    if not _is_int(max_start_delay) or max_start_delay < 0:
        raise ValidationError("policy.max_start_delay", "must be a number of seconds, 0 or more")
    caps: dict[str, int] = {}
    raw_caps = table.get("max_allowance", {})
    if not isinstance(raw_caps, dict):
        raise ValidationError("policy.max_allowance", "must be a table of token = amount")
    for token, amount in raw_caps.items():
        where = f"policy.max_allowance.{token}"
        address = fields.address(token, where)
        if isinstance(amount, str) and amount.isdigit():
            amount = int(amount)
        if not _is_int(amount) or amount < 0:
            raise ValidationError(where, "must be a non-negative integer (base units)")
        caps[address] = amount

    def address_set(key: str) -> frozenset[str] | None:
        if key not in table:
            return None
        items = table[key]
        if not isinstance(items, list):
            raise ValidationError(f"policy.{key}", "must be a list of addresses")
        return frozenset(fields.address(a, f"policy.{key}.{i}") for i, a in enumerate(items))

    return Policy(
        max_validity=max_validity,
        max_allowance=caps,
        rate_period=rate_period,
        max_start_delay=max_start_delay,
        allowed_tokens=address_set("allowed_tokens"),
        allowed_targets=address_set("allowed_targets"),
    )


def _tokens(raw: Any) -> TokenTable:
    """``[[tokens]]``: {chain, address, symbol, decimals} each, over the built-in table."""
    if not isinstance(raw, list):
        raise ValidationError("tokens", "must be an array of tables: [[tokens]]")
    entries = []
    for index, entry in enumerate(raw):
        where = f"tokens.{index}"
        fields.obj(entry, where, required=_TOKEN_KEYS)
        chain = entry["chain"]
        if not _is_int(chain) or not 1 <= chain <= MAX_CHAIN_ID:
            raise ValidationError(f"{where}.chain", f"must be a chain id from 1 to {MAX_CHAIN_ID}")
        address = fields.address(entry["address"], f"{where}.address", allow_zero=True)
        symbol = token_symbol(entry["symbol"], f"{where}.symbol")
        decimals = entry["decimals"]
        if not _is_int(decimals) or not 0 <= decimals <= MAX_DECIMALS:
            raise ValidationError(
                f"{where}.decimals", f"must be an integer from 0 to {MAX_DECIMALS}"
            )
        entries.append((chain, address, TokenInfo(symbol, decimals)))
    return token_table(entries, "tokens")


def _table(raw: dict[str, Any], name: str, keys: set[str]) -> dict[str, Any]:
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise ValidationError(name, "must be a table")
    unknown = set(table) - keys
    if unknown:
        raise ValidationError(f"{name}.{sorted(unknown)[0]}", "unknown setting")
    return table


def _str(table: dict[str, Any], key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value:
        raise ValidationError(key, "must be a non-empty string")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
