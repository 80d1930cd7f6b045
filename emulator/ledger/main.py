"""`signerd-emulator ledger`: run the simulated Ledger Ethereum app behind Speculos' ports.

The screen is printed in the terminal; when stdin is a terminal, the person presses the
buttons there (r / l / b), page by page through reviews and the app's menu as on the device,
or a test drives the same buttons through the REST API as on Speculos.
"""

from __future__ import annotations

import logging
import sys
import threading

import click

from emulator.keys import DEFAULT_MNEMONIC, Keyring
from emulator.ledger.app import MODELS, EthereumApp
from emulator.ledger.menu import Settings
from emulator.ledger.screen import Page, Screen
from emulator.ledger.server import ApduServer, Faults, RestServer

log = logging.getLogger(__name__)


def _print_page(page: Page) -> None:
    # The terminal is the simulated device's screen, for the person running the demo.
    click.echo(
        "  | " + " / ".join(page.lines) + (f"   [both: {page.action}]" if page.action else "")
    )


# Terminal keys for the device's buttons; an empty line is the right button.
_BUTTONS = {"": "right", "r": "right", "l": "left", "b": "both"}


def _terminal_buttons(screen: Screen) -> None:
    """Turn the person's lines into button presses: the review and the menu go page by page,
    as on the device (a Nano signs only with both buttons on "Sign message")."""
    for line in sys.stdin:
        button = _BUTTONS.get(line.strip().lower()[:1])
        if button is None:
            click.echo("  r (or Enter) = right, l = left, b = both buttons")
        else:
            screen.press(button)


@click.command()
@click.option("--apdu-port", default=9999, show_default=True, help="Speculos APDU TCP port.")
@click.option("--api-port", default=5000, show_default=True, help="Speculos REST API port.")
@click.option("--mnemonic", default=DEFAULT_MNEMONIC, help="BIP-39 seed words (public test seed).")
@click.option(
    "--auto",
    type=click.Choice(["approve", "reject"]),
    default=None,
    help="Answer every review at once.",
)
@click.option("--model", type=click.Choice(sorted(MODELS)), default="nanosp", show_default=True)
@click.option(
    "--raw-messages/--no-raw-messages",
    default=False,
    help='Start with the app setting "Raw messages" (verbose EIP-712) on.',
)
@click.option(
    "--blind-signing/--no-blind-signing",
    default=False,
    help='Start with the app setting "Blind signing" on.',
)
@click.option(
    "--state",
    type=click.Choice(["app", "dashboard", "locked"]),
    default="app",
    show_default=True,
    help="Ethereum app open, dashboard (no app), or PIN-locked.",
)
@click.option("--drop-after", type=int, default=None, help="Fault: drop connections after N APDUs.")
@click.option("--stall", is_flag=True, help="Fault: never answer an APDU.")
@click.option("--garbage", is_flag=True, help="Fault: answer with malformed frames.")
@click.option("--verbose", "-v", is_flag=True, help="Log every APDU.")
def ledger_command(
    apdu_port: int,
    api_port: int,
    mnemonic: str,
    auto: str | None,
    model: str,
    raw_messages: bool,
    blind_signing: bool,
    state: str,
    drop_after: int | None,
    stall: bool,
    garbage: bool,
    verbose: bool,
) -> None:
    """Simulated Ledger (Ethereum app) on Speculos' APDU and REST ports, loopback only."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        keyring = Keyring(mnemonic)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mnemonic") from exc
    screen = Screen(auto=auto, on_page=_print_page)
    app = EthereumApp(
        keyring,
        screen,
        model=model,
        settings=Settings(raw_messages=raw_messages, blind_signing=blind_signing),
        state=state,
    )
    faults = Faults(drop_after=drop_after, stall=stall, garbage=garbage)
    try:
        apdu = ApduServer(app, "127.0.0.1", apdu_port, faults)
        rest = RestServer(app, "127.0.0.1", api_port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen: {exc}") from exc
    threading.Thread(target=rest.serve_forever, name="ledger-rest", daemon=True).start()
    if sys.stdin is not None and sys.stdin.isatty():
        threading.Thread(target=_terminal_buttons, args=(screen,), daemon=True).start()
        click.echo("Buttons: r (or Enter) = right, l = left, b = both; then Enter.")
    click.echo(
        f"Simulated Ledger {MODELS[model][0]} (Ethereum app): APDU 127.0.0.1:{apdu_port}, "
        f"REST http://127.0.0.1:{api_port}"
    )
    try:
        apdu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        apdu.close()
        rest.shutdown()
