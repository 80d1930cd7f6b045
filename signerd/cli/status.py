"""`signerd status`: the daemon's device, master address, pending requests and held keys."""

from __future__ import annotations

from pathlib import Path

import click

from signerd.cli import render
from signerd.cli.common import SOCKET_OPTION, json_option, print_json
from signerd.rpc.client import Client


@click.command()
@SOCKET_OPTION
@json_option("The daemon's signerd_status reply as it is.")
def status(socket_path: Path | None, as_json: bool) -> None:
    """Show the daemon's device, master address and pending requests."""
    with Client(socket_path) as client:
        result = client.status()
    if as_json:
        print_json(result)
        return
    for line in render.status_lines(result):
        click.echo(line)
