"""Which Ethereum networks the simulated Trezor knows, and which key paths each one opens.

core/src/apps/ethereum/networks.py (v2.12.4, the same table on every core model) builds in
a few networks; any other comes with the request as a signed definition (`encoded_network`),
checked as a debug build checks it (`definitions.py`). keychain.py then allows the paths
m/44'/<slip44>'/… of the network (plus 60' for other networks, 1' for Ethereum's own), and
60'/1' when the network is unknown (definitions.py `Definitions.from_encoded`).
"""

from __future__ import annotations

from dataclasses import dataclass

from trezorlib import messages

from emulator.trezor.definitions import decode_definition
from emulator.trezor.wire import data_error

HARDENED = 0x8000_0000


@dataclass(frozen=True)
class Network:
    chain_id: int
    slip44: int
    symbol: str


BUILTIN = (
    Network(1, 60, "ETH"),
    Network(10, 614, "ETH"),
    Network(56, 714, "BNB"),
    Network(61, 61, "ETC"),
    Network(137, 966, "POL"),
    Network(8453, 8453, "ETH"),
    Network(42161, 9001, "ETH"),
    Network(560048, 60, "tHOD"),
    Network(11155111, 60, "tSEP"),
)


def decode_network(encoded: bytes) -> Network:
    info = decode_definition(encoded, messages.EthereumNetworkInfo)
    return Network(info.chain_id, info.slip44, info.symbol)


def resolve(
    encoded: bytes | None, *, chain_id: int | None = None, slip44: int | None = None
) -> Network | None:
    """Definitions.from_encoded: built-in first, then the definition; None if unknown."""
    network = None
    if chain_id is not None:
        network = next((n for n in BUILTIN if n.chain_id == chain_id), None)
    elif slip44 is not None:
        network = next((n for n in BUILTIN if n.slip44 == slip44), None)
    else:
        return None
    if network is None and encoded is not None:
        network = decode_network(encoded)
    if network is None:
        return None
    if (chain_id is not None and network.chain_id != chain_id) or (
        slip44 is not None and network.slip44 != slip44
    ):
        raise data_error("Network definition mismatch")
    return network


def allowed_coin_types(network: Network | None) -> tuple[int, ...]:
    """keychain.py _schemas_from_network: the hardened SLIP-44 coin types a path may use."""
    if network is None:
        coins: tuple[int, int] = (60, 1)
    elif network.slip44 != 60:
        coins = (network.slip44, 60)
    else:
        coins = (60, 1)
    return tuple(c | HARDENED for c in coins)


def check_path(address_n: list[int], network: Network | None) -> None:
    """keychain.py PATTERNS_ADDRESS, by their first two levels: m/44'/coin'/… (BIP-44, SEP-5,
    Ledger Live) or m/45'/coin/… (Casa, the coin type not hardened)."""
    coins = allowed_coin_types(network)
    ok = len(address_n) >= 2 and (
        (address_n[0] == 44 | HARDENED and address_n[1] in coins)
        or (address_n[0] == 45 | HARDENED and address_n[1] | HARDENED in coins)
    )
    if not ok:
        raise data_error("Forbidden key path")


def for_path(address_n: list[int], encoded: bytes | None) -> Network | None:
    """with_keychain_from_path: the network named by the path's coin type."""
    if len(address_n) < 2:
        return None
    return resolve(encoded, slip44=address_n[1] & ~HARDENED)
