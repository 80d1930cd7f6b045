"""`signerd`: the command line — run the daemon, talk to it, or use a device directly.

Commands that talk to the daemon (status, request, grants, show, revoke, pay, budget, spends)
use the socket; ``address`` and ``sign-grant`` open the device themselves; ``verify`` and
``audit`` need neither (audit reads the store directly). Each command parses its options, calls the
library and prints; the work itself lives in the library (grants/, flows/, daemon). Errors
are reported, and turned into exit codes (cli/outcomes.py), in one place: SignerdGroup.
"""

from __future__ import annotations

import logging

import click

from signerd import __version__
from signerd.cli import (
    account,
    audit,
    device,
    grants,
    listing,
    mcp,
    payments,
    serve,
    service,
    status,
)
from signerd.cli.common import SignerdGroup


@click.group(cls=SignerdGroup)
@click.version_option(__version__, prog_name="signerd")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Hardware-wallet-approved session keys for autonomous agents."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # trezorlib logs every transport open/close at INFO (the liveness probe: once a second).
    logging.getLogger("trezorlib").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


for _command in (
    serve.serve,
    status.status,
    status.unlock,
    grants.request,
    listing.list_grants,
    listing.show,
    listing.revoke,
    grants.verify,
    audit.audit,
    device.devices,
    device.address,
    device.sign_grant,
    payments.pay,
    payments.budget,
    payments.spends,
    mcp.mcp,
    service.stop,
    service.install_service,
    account.account,
):
    main.add_command(_command)

__all__ = ["main"]
