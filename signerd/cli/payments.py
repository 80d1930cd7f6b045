"""Payment commands: pay for a URL over x402 within a grant; a grant's budget; the spends."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from signerd.cli import render
from signerd.cli.common import SOCKET_OPTION, fail, json_option, print_json
from signerd.cli.outcomes import ExitCode
from signerd.rpc.client import Client
from signerd.rpc.grant_lookup import resolve_grant_id


@click.command()
@SOCKET_OPTION
@click.argument("url")
@click.option("--grant", "grant_id", required=True, help="The grant to pay from (id or prefix).")
@json_option("Print {status, body, paymentResponse} (and errors) as JSON.")
def pay(socket_path: Path | None, url: str, grant_id: str, as_json: bool) -> None:
    """GET URL, paying over x402 from a grant; print the response body.

    Exit 0 on a 2xx answer, 1 on another HTTP answer (its status and body on stderr); a
    refusal by signerd (over budget, payee not allowed, revoked...) exits with its code.
    """
    # x402 is an optional extra (signerd[x402]): imported here, so the rest of the CLI and
    # the daemon never need it.
    try:
        import requests

        from signerd.payments.x402_fetch import fetch_paying
    except ImportError as exc:
        raise click.UsageError(f"{exc}: install signerd[x402]") from None
    try:
        with Client(socket_path) as client:
            paid = fetch_paying(client, resolve_grant_id(client, grant_id), url)
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ) as exc:
        fail(f"{url}: {exc}", ExitCode.INVALID_INPUT, "INVALID_URL")
    except requests.RequestException as exc:
        fail(f"{url}: {exc}", ExitCode.UNAVAILABLE, "HTTP_UNREACHABLE")
    response = paid.response
    payment = response.headers.get("PAYMENT-RESPONSE")
    if as_json:
        reply = {"status": response.status_code, "body": response.text}
        print_json({**reply, "paymentResponse": payment})
    elif not response.ok:
        body = " ".join(response.text.split())  # one line, as every error
        fail(f"HTTP {response.status_code} from {url}: {body[:300]}", name="HTTP_ERROR")
    else:
        sys.stdout.write(response.text if response.text.endswith("\n") else response.text + "\n")
    if not response.ok:
        sys.exit(ExitCode.NEGATIVE)


@click.command()
@SOCKET_OPTION
@click.argument("grant_id", metavar="GRANT_ID")
@json_option()
def budget(socket_path: Path | None, grant_id: str, as_json: bool) -> None:
    """Where each allowance of a grant stands in its current window."""
    with Client(socket_path) as client:
        result = client.get_budget(resolve_grant_id(client, grant_id))
    if as_json:
        print_json(result)
        return
    allowances = result["allowances"]
    for line, allowance in zip(render.budget_lines(allowances), allowances, strict=True):
        click.echo(line)
        click.echo(f"    {render.window_line(allowance)}")


@click.command()
@SOCKET_OPTION
@click.option("--grant", "grant_id", help="Only this grant's spends (id or prefix).")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option()
def spends(socket_path: Path | None, grant_id: str | None, limit: int, as_json: bool) -> None:
    """Spends, newest first."""
    params: dict[str, Any] = {"limit": limit}
    with Client(socket_path) as client:
        if grant_id:
            params["grantId"] = resolve_grant_id(client, grant_id)
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
