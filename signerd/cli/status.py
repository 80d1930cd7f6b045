"""`signerd status`: the daemon's device, master address and pending requests."""

from __future__ import annotations

from pathlib import Path

import click

from signerd.cli.common import SOCKET_OPTION, errors, print_json
from signerd.rpc.client import Client


@click.command()
@SOCKET_OPTION
def status(socket_path: Path | None) -> None:
    """Show the daemon's device, master address and pending requests."""
    with errors(), Client(socket_path) as client:
        print_json(client.status())
