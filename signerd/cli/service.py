"""Running signerd as a service: `signerd install-service` (systemd user units, socket
activation) and `signerd stop` (a clean stop over the socket, for the daemon's admin uids)."""

from __future__ import annotations

from pathlib import Path

import click

from signerd.cli.common import SOCKET_OPTION, fail, json_option, print_json
from signerd.cli.outcomes import ExitCode
from signerd.config import default_socket_path
from signerd.launch import wait_until
from signerd.rpc.client import Client
from signerd.service import executable, install_steps, render_units, user_unit_dir


@click.command()
@SOCKET_OPTION
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Seconds to wait.")
@json_option('Print {"stopped": SOCKET} (and errors) as JSON.')
def stop(socket_path: Path | None, timeout: float, as_json: bool) -> None:
    """Stop the daemon cleanly: pending requests are answered CANCELLED, the socket removed.

    Only the daemon's admin uids (default: its own) may stop it. Under systemd, the socket
    unit keeps listening and starts the daemon again at the next connection; stop both with
    `systemctl --user stop signerd.socket signerd.service`.
    """
    path = socket_path or default_socket_path()
    with Client(path) as client:
        reply = client.call("signerd_shutdown")
        if not client.wait_closed(timeout):
            fail(f"signerd at {path} did not stop within {timeout:g} s", ExitCode.UNAVAILABLE)
    if reply.get("removesSocket", True):
        try:
            wait_until(lambda: not path.exists(), timeout, what=f"{path} to go")
        except TimeoutError:
            fail(f"signerd stopped answering but {path} is still there", ExitCode.UNAVAILABLE)
    if as_json:
        print_json({"stopped": str(path)})
    else:
        click.echo(f"signerd at {path} stopped")


@click.command("install-service")
@click.option("--device", help="Device path the service serves (else the config's).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="signerd.toml the service reads (default: none).",
)
@click.option("--dry-run", is_flag=True, help="Print the units and where they would go.")
@click.option("--force", is_flag=True, help="Replace units that differ.")
@json_option('Print {"units": {PATH: TEXT}, "written": bool, "steps": [...]} as JSON.')
def install_service(
    device: str | None, config_file: Path | None, dry_run: bool, force: bool, as_json: bool
) -> None:
    """Write systemd user units (signerd.socket, signerd.service) for socket activation."""
    if device is None and config_file is None:
        fail(
            "give --device PATH and/or --config signerd.toml: the service must know its device",
            ExitCode.INVALID_INPUT,
        )
    try:
        units = render_units(
            executable(),
            device=device,
            config=config_file.resolve() if config_file is not None else None,
        )
    except ValueError as exc:
        fail(str(exc), ExitCode.INVALID_INPUT)
    target = user_unit_dir()
    for name, text in units.items():
        path = target / name
        if dry_run:
            if not as_json:
                click.echo(f"# would write {path}\n{text}")
            continue
        if path.exists() and path.read_text() != text and not force:
            fail(f"{path} exists and differs; compare it, then use --force to replace it")
        target.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not as_json:
            click.echo(f"wrote {path}")
    if as_json:
        written = {str(target / name): text for name, text in units.items()}
        print_json({"units": written, "written": not dry_run, "steps": install_steps()})
        return
    click.echo("then:" if not dry_run else "# then:")
    for step in install_steps():
        click.echo(f"  {step}")
