"""`signerd account address|deploy`: the person's on-chain account, a HybridDeleGator whose
only owner is the device's address (signerd/onchain/account.py says why that account).

Neither command asks the device to sign anything: the address is computed from the owner's
address (read from the device, or given with --owner), and the deployment is a transaction
of the funder key (the chain's relayer_key_file, or --funder-key-file), which pays the gas
and nothing else: the owner is fixed by the account's init code, whoever sends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from signerd.cli.common import errors, json_option, print_json
from signerd.config import load_config
from signerd.devices import DEFAULT_DERIVATION_PATH, open_signer
from signerd.devices.discovery import resolve_device
from signerd.errors import ValidationError
from signerd.grants import fields
from signerd.onchain import rpc
from signerd.onchain.account import account_address
from signerd.onchain.chains import ChainConfig

_CONFIG = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="signerd.toml with the chain's [[chains]] entry.",
)
_CHAIN = click.option("--chain", "chain_id", type=int, required=True, help="Chain id.")
_OWNER = click.option(
    "--owner", help="The owner's address; without it, the device's address is read."
)
_DEVICE = click.option(
    "--device", envvar="SIGNERD_DEVICE", help="Device path (when --owner is not given)."
)
_PATH = click.option("--path", "derivation", default=DEFAULT_DERIVATION_PATH, show_default=True)


@click.group()
def account() -> None:
    """The person's account on chain: a HybridDeleGator owned by the device's address."""


def _owner(owner: str | None, device: str | None, derivation: str) -> str:
    if owner is not None:
        return fields.address(owner, "owner")
    if device is None:
        raise ValidationError("device", "give --device (or SIGNERD_DEVICE) or --owner")
    with open_signer(resolve_device(device)) as signer:
        return signer.get_address(derivation)


def _describe(chain: ChainConfig, owner: str) -> dict[str, Any]:
    address = account_address(chain.factory, chain.hybrid_implementation, owner, chain.account_salt)
    return {
        "chainId": chain.chain_id,
        "owner": owner,
        "account": address,
        "salt": chain.account_salt,
    }


@account.command("address")
@_CONFIG
@_CHAIN
@_OWNER
@_DEVICE
@_PATH
@json_option()
def address(
    config_file: Path,
    chain_id: int,
    owner: str | None,
    device: str | None,
    derivation: str,
    as_json: bool,
) -> None:
    """Print the owner's account address on the chain (whether deployed or not)."""
    with errors():
        chain = load_config(config_file).chain(chain_id)
        info = _describe(chain, _owner(owner, device, derivation))
        if chain.rpc is not None:
            info["deployed"] = rpc.has_code(rpc.connect(chain), info["account"])
    if as_json:
        print_json(info)
        return
    deployed = info.get("deployed")
    state = "" if deployed is None else " (deployed)" if deployed else " (not deployed)"
    click.echo(f"{info['account']}{state}")
    click.echo(f"owner {info['owner']}, chain {chain_id}, salt {info['salt']}")


@account.command("deploy")
@_CONFIG
@_CHAIN
@_OWNER
@_DEVICE
@_PATH
@click.option(
    "--funder-key-file",
    type=click.Path(path_type=Path, exists=True),
    help="File with the hex key that pays the gas (default: the chain's relayer_key_file).",
)
@json_option()
def deploy(
    config_file: Path,
    chain_id: int,
    owner: str | None,
    device: str | None,
    derivation: str,
    funder_key_file: Path | None,
    as_json: bool,
) -> None:
    """Deploy the owner's account through the chain's SimpleFactory; the funder pays gas."""
    with errors():
        chain = load_config(config_file).chain(chain_id)
        if funder_key_file is not None:
            chain = ChainConfig(**{**vars(chain), "relayer_key_file": funder_key_file})
        info = _describe(chain, _owner(owner, device, derivation))
        w3 = rpc.connect(chain)
        if rpc.has_code(w3, info["account"]):
            info["tx"] = None
        else:
            info["tx"] = rpc.deploy_account(w3, chain, info["owner"], rpc.relayer_key(chain)).tx
        info["deployed"] = True
    if as_json:
        print_json(info)
        return
    how = "already deployed" if info["tx"] is None else f"deployed in {info['tx']}"
    click.echo(f"{info['account']} {how}")
