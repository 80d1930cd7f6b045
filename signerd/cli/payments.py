"""Payment commands: pay for a URL over x402 within a grant; a grant's budget; the spends."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from signerd.cli.common import SOCKET_OPTION, errors, json_option, print_json
from signerd.errors import SignerdError
from signerd.rpc.client import Client

HTTP_TIMEOUT = 60.0


@click.command()
@SOCKET_OPTION
@click.argument("url")
@click.option("--grant", "grant_id", required=True, help="The grant to pay from.")
def pay(socket_path: Path | None, url: str, grant_id: str) -> None:
    """GET URL, paying over x402 from a grant; print the response body.

    Exit 0 on a 2xx answer. A refusal by signerd (over budget, payee not allowed, revoked...)
    or a non-2xx answer exits 1 with one JSON line on stderr: {"error": {...}}.
    """
    # x402 is an optional extra (signerd[x402]): imported here, so the rest of the CLI and
    # the daemon never need it.
    try:
        import requests
        from x402 import x402ClientSync
        from x402.http.clients import wrapRequestsWithPayment
        from x402.mechanisms.evm.exact import ExactEvmClientScheme

        from signerd.payments.x402_signer import SignerdEvmSigner
    except ImportError as exc:
        _refused({"message": f"{exc}: install signerd[x402]", "name": "MISSING_DEPENDENCY"})
    try:
        with Client(socket_path) as client:
            grant = client.get_grant(grant_id)
            network = f"eip155:{grant['chainId']}"
            tokens = [a["token"] for a in grant["grant"]["typedData"]["message"]["allowances"]]
            payer = x402ClientSync()
            payer.register(network, ExactEvmClientScheme(SignerdEvmSigner(client, grant_id)))
            # x402 pays by default only in the assets of its own table: here, the grant's.
            payer.set_spend_controls(
                {"allowed_assets": [{"network": network, "asset": t} for t in tokens]}
            )
            session = wrapRequestsWithPayment(requests.Session(), payer)
            response = session.get(url, timeout=HTTP_TIMEOUT)
    except Exception as exc:  # x402 wraps the signer's errors: report signerd's own
        cause = _signerd_cause(exc)
        if cause is None:
            if isinstance(exc, OSError | requests.RequestException):
                _refused({"message": str(exc), "name": type(exc).__name__})
            raise
        _refused(
            {
                "code": int(cause.code),
                "name": cause.name,
                "message": cause.message,
                "data": cause.data,
            }
        )
    if not response.ok:
        _refused(
            {
                "httpStatus": response.status_code,
                "message": response.text[:500],
                "paymentRequired": response.headers.get("PAYMENT-REQUIRED"),
            }
        )
    sys.stdout.write(response.text)
    if not response.text.endswith("\n"):
        sys.stdout.write("\n")


def _signerd_cause(exc: BaseException | None) -> SignerdError | None:
    while exc is not None:
        if isinstance(exc, SignerdError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _refused(error: dict[str, Any]) -> NoReturn:
    click.echo(json.dumps({"error": error}, separators=(",", ":")), err=True)
    sys.exit(1)


@click.command()
@SOCKET_OPTION
@click.argument("grant_id")
@json_option()
def budget(socket_path: Path | None, grant_id: str, as_json: bool) -> None:
    """Where each allowance of a grant stands in its current window."""
    with errors(), Client(socket_path) as client:
        result = client.get_budget(grant_id)
    if as_json:
        print_json(result)
        return
    for a in result["allowances"]:
        window = (
            f"window {a['windowStart']}..{a['windowEnd']}"
            if a["windowStart"] is not None
            else "outside the grant's validity"
        )
        click.echo(
            f"{a['token']}  spent {a['spent']}  reserved {a['reserved']}  "
            f"remaining {a['remaining']} of {a['cap']}  ({window})"
        )


@click.command()
@SOCKET_OPTION
@click.option("--grant", "grant_id", help="Only this grant's spends.")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option()
def spends(socket_path: Path | None, grant_id: str | None, limit: int, as_json: bool) -> None:
    """Spends, newest first."""
    params: dict[str, Any] = {"limit": limit}
    if grant_id:
        params["grantId"] = grant_id
    with errors(), Client(socket_path) as client:
        result = client.list_spends(**params)
    if as_json:
        print_json(result)
        return
    if not result["spends"]:
        click.echo("no spends")
    for s in result["spends"]:
        click.echo(
            f"#{s['seq']} {s['status']:<9} {s['amount']} of {s['token']} to {s['payee']}"
            f"  grant {s['grant_id'][:10]}  nonce {s['key'][:10]}"
        )
