"""Commands that use a device directly, without the daemon: list, address, sign a grant."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import click

from signerd.cli import render
from signerd.cli.common import DEVICE_OPTION, Spinner, json_option, print_json
from signerd.config import load_config
from signerd.devices import DEFAULT_DERIVATION_PATH, open_signer
from signerd.devices.discovery import discover, resolve_device
from signerd.flows.grant import sign_grant_locally
from signerd.grants.cli_input import load_request, read_text

_DERIVATION_OPTION = click.option(
    "--path", "derivation", default=DEFAULT_DERIVATION_PATH, show_default=True
)


@click.command()
@json_option()
@click.option(
    "--emulators", is_flag=True, help="Also list emulators answering on their default ports."
)
def devices(as_json: bool, emulators: bool) -> None:
    """List connected Trezor and Ledger devices (and emulators, with --emulators)."""
    found = discover(emulators=emulators)
    if as_json:
        print_json([d.to_json() for d in found])
        return
    if not found:
        click.echo(render.NO_DEVICES)
    for d in found:
        click.echo(render.device_line(d))


@click.command()
@DEVICE_OPTION
@_DERIVATION_OPTION
@json_option()
def address(device: str, derivation: str, as_json: bool) -> None:
    """Print the device's Ethereum address at a BIP-32 path."""
    with open_signer(resolve_device(device)) as signer:
        found = signer.get_address(derivation)
    if as_json:
        print_json({"address": found, "path": derivation, "device": device})
    else:
        click.echo(found)


@click.command("sign-grant")
@DEVICE_OPTION
@click.argument("request_file", type=click.File("r"))
@_DERIVATION_OPTION
@click.option(
    "--allow-blind-signing",
    is_flag=True,
    help="Sign by hash where the device cannot show the fields.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True),
    help="signerd.toml: its [policy] and [[tokens]] apply, as in the daemon.",
)
@json_option("Errors as JSON too (the signed grant is JSON either way).")
def sign_grant(
    device: str,
    request_file: IO[str],
    derivation: str,
    allow_blind_signing: bool,
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Have the device sign a grant request (JSON file, - for stdin); print the signed grant."""
    request = load_request(read_text(request_file), request_file.name)
    config = load_config(config_file)
    with Spinner("Confirm on your device", lazy=True) as spinner:
        grant = sign_grant_locally(
            device,
            request,
            derivation,
            allow_blind_signing,
            notify=spinner.say,
            policy=config.policy,
            tokens=config.tokens,
        )
    print_json(grant)
