"""`signerd-emulator`: run a simulated device (Trezor over UDP, Ledger behind Speculos' framing)."""

from __future__ import annotations

import click

from emulator.ledger.main import ledger_command
from emulator.trezor.main import trezor_command
from signerd import __version__


@click.group()
@click.version_option(__version__, prog_name="signerd-emulator")
def main() -> None:
    """Simulated hardware wallets with public test keys, speaking the real wire protocols."""


main.add_command(trezor_command, "trezor")
main.add_command(ledger_command, "ledger")

if __name__ == "__main__":
    main()
