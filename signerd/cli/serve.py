"""`signerd serve`: run the daemon in the foreground (the wiring is signerd.daemon's)."""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys
from pathlib import Path

import click

from signerd.cli.common import DATA_DIR_OPTION, SOCKET_OPTION, errors, json_option
from signerd.config import load_config


@click.command()
@click.option("--device", "device", envvar="SIGNERD_DEVICE", help="Device path (see `address`).")
@SOCKET_OPTION
@DATA_DIR_OPTION
@click.option("--config", "config_file", type=click.Path(path_type=Path, exists=True))
@click.option("--approval-timeout", type=float, help="Seconds to wait for the person (120).")
@click.option(
    "--allow-blind-signing",
    is_flag=True,
    default=None,
    help="Allow hash-only signing where the device cannot show the fields.",
)
@json_option("Errors as JSON (the log stays text).")
def serve(
    device: str | None,
    socket_path: Path | None,
    data_dir: Path | None,
    config_file: Path | None,
    approval_timeout: float | None,
    allow_blind_signing: bool | None,
    as_json: bool,
) -> None:
    """Serve grants to agents on the Unix socket until SIGTERM/SIGINT."""
    # Loaded here, not at the top: the other commands never need the daemon's modules.
    from signerd.daemon import serve as run_daemon
    from signerd.hardening import no_core_dumps, room_for_connections

    no_core_dumps()  # before the daemon holds anything secret
    room_for_connections()

    # A daemon says what it does (device found, shutting down) without -v.
    if logging.getLogger().level > logging.INFO:
        logging.getLogger().setLevel(logging.INFO)
    with errors():
        config = load_config(config_file).with_overrides(
            device=device,
            socket_path=socket_path,
            data_dir=data_dir,
            approval_timeout=approval_timeout,
            allow_blind_signing=allow_blind_signing,
        )
        asyncio.run(run_daemon(config, ready=_announce))


def _announce(socket_path: Path) -> None:
    """Where clients find the daemon, as `ssh-agent -s` says it: a line for a shell to eval."""
    path = shlex.quote(str(socket_path))
    click.echo(f"SIGNERD_SOCKET={path}; export SIGNERD_SOCKET;")
    sys.stdout.flush()  # at once, also when stdout is a pipe or a file
