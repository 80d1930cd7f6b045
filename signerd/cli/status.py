"""`signerd status` (the daemon's device, master address, pending requests and held keys) and
`signerd unlock` (the held keys, after a restart)."""

from __future__ import annotations

from pathlib import Path

import click

from signerd.cli import render
from signerd.cli.common import SOCKET_OPTION, Spinner, json_option, print_json
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


@click.command()
@SOCKET_OPTION
@json_option("The daemon's signerd_unlock reply as it is.")
def unlock(socket_path: Path | None, as_json: bool) -> None:
    """Unlock the session keys the daemon holds: the person confirms on the device.

    Needed once after each daemon start before held-key grants pay again (until then they
    answer KEYS_LOCKED); answered at once when the keys are unlocked already.
    """
    with Client(socket_path) as client, Spinner("Confirm on your device", lazy=True) as spinner:
        result = client.unlock(on_progress=spinner.say)
    if as_json:
        print_json(result)
        return
    held = result["held"]
    click.echo(f"unlocked: {held} held session key{'s' if held != 1 else ''}")
