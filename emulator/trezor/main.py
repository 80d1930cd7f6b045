"""`signerd-emulator trezor`: run the simulated Trezor on UDP until interrupted."""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from types import FrameType

import click
from trezorlib import messages

from emulator.keys import DEFAULT_MNEMONIC, Keyring
from emulator.trezor.device import SimulatedTrezor
from emulator.trezor.layouts import Screen, ScreenKind
from emulator.trezor.loop import ScreenCallback
from emulator.trezor.models import MODELS, Approval, Faults, PressEvent
from emulator.trezor.server import UdpLinks

LOG = logging.getLogger(__name__)

_KEYS = {
    "y": messages.DebugButton.YES,
    "n": messages.DebugButton.NO,
    "i": messages.DebugButton.INFO,
}


def _screen_printer(interactive: bool) -> ScreenCallback:
    def show(screen: Screen, auto: str | None) -> None:
        click.echo(screen.boxed())
        if auto is not None:
            click.echo(f"  (auto: {auto})")
        elif interactive:
            keys = "y = confirm, n = reject"
            if screen.kind is ScreenKind.SHOW_MORE:
                keys += ", i = show full"
            click.echo(f"  press {keys}, then Enter (or use the debug link)")
        else:
            click.echo("  waiting for a press on the debug link")

    return show


def _home_printer(why: str) -> None:
    click.echo(f"  home screen ({why})" if why else "  home screen")


def _read_terminal(device: SimulatedTrezor) -> None:
    """Turn the person's y/n/i lines into button presses."""
    for line in sys.stdin:
        button = _KEYS.get(line.strip().lower()[:1])
        if button is None:
            click.echo("  y = confirm, n = reject, i = show full")
        elif not device.awaiting_input:
            # A key typed ahead must not approve a screen the person has not seen yet.
            click.echo("  nothing to confirm right now")
        else:
            device.post(PressEvent(button))


@click.command(
    epilog=(
        "Fault switches, for hardening the host: --drop-after N answers N wire messages and "
        "then closes its wire port (an unplugged device); --stall never answers "
        "signing requests; --garbage answers signing requests with a random 64-byte packet "
        "that is not a protocol v1 report."
    )
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=21324,
    show_default=True,
    type=click.IntRange(1, 65534),
    help="Wire link UDP port; the debug link is PORT+1.",
)
@click.option(
    "--mnemonic", default=DEFAULT_MNEMONIC, help="BIP-39 seed (default: public test vector)."
)
@click.option(
    "--model",
    type=click.Choice(sorted(MODELS)),
    default="safe3",
    show_default=True,
    help='"one" is a Trezor One: no EIP-712 streaming, typed-data hashes only.',
)
@click.option(
    "--auto",
    type=click.Choice(["approve", "reject"]),
    default=None,
    help=(
        "Answer every confirmation automatically after showing it; approve also opens "
        'every "Show full ..." prompt, so all fields are shown.'
    ),
)
@click.option(
    "--drop-after", type=click.IntRange(min=0), default=None, help="Go silent after N messages."
)
@click.option("--stall", is_flag=True, help="Never answer signing requests.")
@click.option("--garbage", is_flag=True, help="Answer signing requests with random bytes.")
@click.option("-v", "--verbose", is_flag=True, help="Log every message.")
def trezor_command(
    host: str,
    port: int,
    mnemonic: str,
    model: str,
    auto: str | None,
    drop_after: int | None,
    stall: bool,
    garbage: bool,
    verbose: bool,
) -> None:
    """Simulated Trezor Safe 3 / Safe 5 / T / One: protocol v1 over UDP, debug link on PORT+1."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not ipaddress.ip_address(host).is_loopback:
        LOG.warning("binding %s: the simulator's keys are public, keep it off networks", host)
    try:
        keyring = Keyring(mnemonic)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mnemonic") from exc

    interactive = auto is None and sys.stdin.isatty()
    try:
        links = UdpLinks(host, port, drop_after)
    except OSError as exc:
        raise click.ClickException(f"cannot bind udp {host}:{port}/{port + 1}: {exc}") from exc
    device = SimulatedTrezor(
        keyring,
        MODELS[model],
        send=links.send_wire,
        send_raw=links.send_raw,
        approval=Approval(auto) if auto else Approval.MANUAL,
        faults=Faults(drop_after=drop_after, stall=stall, garbage=garbage),
        on_screen=_screen_printer(interactive),
        on_home=_home_printer,
    )

    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    links.start(device)
    if interactive:
        threading.Thread(target=_read_terminal, args=(device,), daemon=True).start()
    click.echo(
        f"Simulated Trezor {MODELS[model].name} on udp:{host}:{port} "
        f"(debug link udp:{host}:{port + 1}), approvals: {auto or 'manual'}"
    )
    stop.wait()
    links.stop()
